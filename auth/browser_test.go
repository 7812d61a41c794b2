package auth

import (
	"slices"
	"testing"
)

func TestBrowserCommand(t *testing.T) {
	const login = "https://api.plannrcrm.com/oauth/authorize?client_id=a&state=b&code_challenge=c"
	cases := []struct {
		goos      string
		graphical bool
		url       string
		wantName  string
		wantArgs  []string
		wantErr   bool
	}{
		{goos: "darwin", url: login, wantName: "open", wantArgs: []string{login}},
		{goos: "windows", url: login, wantName: "rundll32", wantArgs: []string{"url.dll,FileProtocolHandler", login}},
		{goos: "linux", graphical: true, url: login, wantName: "xdg-open", wantArgs: []string{login}},
		{goos: "freebsd", graphical: true, url: "http://127.0.0.1:8090/oauth/authorize", wantName: "xdg-open", wantArgs: []string{"http://127.0.0.1:8090/oauth/authorize"}},
		{goos: "linux", graphical: false, url: login, wantErr: true},
		{goos: "windows", url: `C:\Windows\System32\calc.exe`, wantErr: true},
		{goos: "windows", url: "file:///C:/Windows/System32/calc.exe", wantErr: true},
		{goos: "darwin", url: "javascript:alert(1)", wantErr: true},
		{goos: "linux", graphical: true, url: "https:///no-host", wantErr: true},
	}
	for _, tc := range cases {
		name, args, err := browserCommand(tc.goos, tc.graphical, tc.url)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s %q: opened with %s %v, want an error", tc.goos, tc.url, name, args)
			}
			continue
		}
		if err != nil || name != tc.wantName || !slices.Equal(args, tc.wantArgs) {
			t.Errorf("%s %q: %s %v (%v), want %s %v", tc.goos, tc.url, name, args, err, tc.wantName, tc.wantArgs)
		}
	}
}
