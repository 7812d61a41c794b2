package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBundlePlan(t *testing.T) {
	linuxAMD := target{"linux", "amd64"}
	linuxARM := target{"linux", "arm64"}
	macAMD := target{"darwin", "amd64"}
	macARM := target{"darwin", "arm64"}
	winAMD := target{"windows", "amd64"}
	winARM := target{"windows", "arm64"}
	tests := []struct {
		name  string
		built []target
		want  []bundlePlatform
	}{
		{
			name:  "a full release: universal macOS, amd64 for Windows and Linux",
			built: allTargets(),
			want: []bundlePlatform{
				{"darwin", bundleDarwin, []target{macAMD, macARM}},
				{"win32", bundleWindows, []target{winAMD}},
				{"linux", bundleLinux, []target{linuxAMD}},
			},
		},
		{
			name:  "this machine only",
			built: []target{linuxAMD},
			want:  []bundlePlatform{{"linux", bundleLinux, []target{linuxAMD}}},
		},
		{
			name:  "arm64 where it is the only one",
			built: []target{linuxARM, macARM, winARM},
			want: []bundlePlatform{
				{"darwin", bundleDarwin, []target{macARM}},
				{"win32", bundleWindows, []target{winARM}},
				{"linux", bundleLinux, []target{linuxARM}},
			},
		},
		{name: "nothing", built: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bundlePlan(tt.built)
			if !slices.EqualFunc(got, tt.want, func(a, b bundlePlatform) bool {
				return a.Platform == b.Platform && a.Path == b.Path && slices.Equal(a.Targets, b.Targets)
			}) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCompleteManifest(t *testing.T) {
	tmpl, err := loadManifestTemplate()
	if err != nil {
		t.Fatal(err)
	}
	v, _ := parseVersion("v2.0.0-rc.1")
	tools := []manifestTool{{Name: "a", Description: "does a"}}
	tests := []struct {
		name          string
		built         []target
		wantCommand   string
		wantOverrides map[string]platformOverride
		wantPlatforms []string
	}{
		{
			name:        "a full release",
			built:       allTargets(),
			wantCommand: "${__dirname}/server/plannr-mcp",
			wantOverrides: map[string]platformOverride{
				"win32": {Command: "${__dirname}/server/plannr-mcp.exe"},
				"linux": {Command: "${__dirname}/server/linux/plannr-mcp"},
			},
			wantPlatforms: []string{"darwin", "win32", "linux"},
		},
		{
			name:          "linux only",
			built:         []target{{"linux", "amd64"}},
			wantCommand:   "${__dirname}/server/linux/plannr-mcp",
			wantPlatforms: []string{"linux"},
		},
		{
			name:          "windows only",
			built:         []target{{"windows", "arm64"}},
			wantCommand:   "${__dirname}/server/plannr-mcp.exe",
			wantPlatforms: []string{"win32"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := completeManifest(tmpl, v, tools, bundlePlan(tt.built))
			if err != nil {
				t.Fatal(err)
			}
			if m.Version != "2.0.0-rc.1" {
				t.Errorf("version %q", m.Version)
			}
			c := m.Server.MCPConfig
			if c.Command != tt.wantCommand || m.Server.EntryPoint != strings.TrimPrefix(tt.wantCommand, "${__dirname}/") {
				t.Errorf("command %q, entry_point %q; want %q", c.Command, m.Server.EntryPoint, tt.wantCommand)
			}
			if len(c.PlatformOverrides) != len(tt.wantOverrides) {
				t.Errorf("platform_overrides %+v, want %+v", c.PlatformOverrides, tt.wantOverrides)
			}
			for p, o := range tt.wantOverrides {
				if got := c.PlatformOverrides[p]; got.Command != o.Command || got.Args != nil || got.Env != nil {
					t.Errorf("platform_overrides[%s] = %+v, want %+v", p, got, o)
				}
			}
			if !slices.Equal(m.Compatibility.Platforms, tt.wantPlatforms) {
				t.Errorf("platforms %q, want %q", m.Compatibility.Platforms, tt.wantPlatforms)
			}
			if !slices.Equal(m.Tools, tools) || m.Server.Type != "binary" || m.Icon != bundleIcon {
				t.Errorf("tools %+v, server type %q, icon %q", m.Tools, m.Server.Type, m.Icon)
			}
		})
	}
	if tmpl.Version != "" || tmpl.Server.MCPConfig.Command != "" || tmpl.Compatibility != nil {
		t.Errorf("completeManifest changed the template: %+v", tmpl)
	}
	if _, err := completeManifest(tmpl, v, tools, nil); err == nil {
		t.Error("a bundle without executables was accepted")
	}
}

// TestManifestTemplate holds the template to what the bundle promises: a
// Personal Access Token kept in the keychain and not required, an
// optional account, a sandbox switch mapped to PLANNR_MCP_SANDBOX, and no
// setting that a host could leave as a literal ${user_config...}.
func TestManifestTemplate(t *testing.T) {
	m, err := loadManifestTemplate()
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{"plannr_token", "plannr_account_uuid", "sandbox", "read_only"}
	var keys []string
	for _, e := range m.UserConfig {
		keys = append(keys, e.Key)
	}
	if !slices.Equal(keys, wantOrder) {
		t.Errorf("user_config keys %q, want %q in that order", keys, wantOrder)
	}
	wantEnv := map[string]struct {
		key, typ  string
		default_  any
		sensitive bool
	}{
		"PLANNR_TOKEN":         {"plannr_token", "string", "", true},
		"PLANNR_ACCOUNT_UUID":  {"plannr_account_uuid", "string", "", false},
		"PLANNR_MCP_SANDBOX":   {"sandbox", "boolean", false, false},
		"PLANNR_MCP_READ_ONLY": {"read_only", "boolean", false, false},
	}
	env := m.Server.MCPConfig.Env
	if len(env) != len(wantEnv) {
		t.Errorf("env %v, want the variables %v", env, wantEnv)
	}
	for name, w := range wantEnv {
		if got := env[name]; got != "${user_config."+w.key+"}" {
			t.Errorf("env %s = %q, want ${user_config.%s}", name, got, w.key)
		}
		o, ok := m.UserConfig.option(w.key)
		if !ok {
			t.Errorf("no user_config.%s", w.key)
			continue
		}
		if o.Type != w.typ || o.Required || o.Sensitive != w.sensitive || o.Default != w.default_ || o.Title == "" || o.Description == "" {
			t.Errorf("user_config.%s = %+v, want type %s, not required, sensitive %v, default %#v, a title and a description", w.key, o, w.typ, w.sensitive, w.default_)
		}
	}
	// Every placeholder names an option with a default: an unset option
	// without one is not substituted, and the server would get the text
	// ${user_config.KEY} (as a token, say).
	placeholder := regexp.MustCompile(`\$\{user_config\.([^}]*)\}`)
	all := append(slices.Clone(m.Server.MCPConfig.Args), m.Server.MCPConfig.Command)
	for _, v := range env {
		all = append(all, v)
	}
	for _, s := range all {
		for _, match := range placeholder.FindAllStringSubmatch(s, -1) {
			if o, ok := m.UserConfig.option(match[1]); !ok || o.Default == nil {
				t.Errorf("%s: no user_config.%s with a default", s, match[1])
			}
		}
	}
	for _, field := range []string{m.Name, m.DisplayName, m.Description, m.LongDescription, m.Author.Name, m.License, m.Homepage, m.Support} {
		if field == "" {
			t.Errorf("a required or expected field is empty: %+v", m)
			break
		}
	}
	if m.Repository == nil || !strings.HasPrefix(m.Repository.URL, "https://github.com/plannr-mcp/plannr-mcp") {
		t.Errorf("repository %+v", m.Repository)
	}
	if len(m.Server.MCPConfig.Args) != 0 {
		t.Errorf("args %q: the bundle serves the default tools, and delete stays off", m.Server.MCPConfig.Args)
	}
}

func TestUserConfigKeepsOrder(t *testing.T) {
	in := `{"z":{"type":"string","title":"Z","description":"z","required":false},"a":{"type":"boolean","title":"A","description":"a","required":true,"default":true}}`
	var u userConfig
	if err := json.Unmarshal([]byte(in), &u); err != nil {
		t.Fatal(err)
	}
	if len(u) != 2 || u[0].Key != "z" || u[1].Key != "a" || u[1].Option.Default != true {
		t.Fatalf("decoded %+v", u)
	}
	out, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("encoded\n%s\nwant\n%s", out, in)
	}
	for _, bad := range []string{
		`[]`,
		`{"a":{"type":"string","title":"A","description":"a","required":false,"colour":"red"}}`,
		`{"a":{"type":"string","title":"A","description":"a","required":false},"a":{"type":"string","title":"A","description":"a","required":false}}`,
	} {
		if err := json.Unmarshal([]byte(bad), &u); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestManifestTools(t *testing.T) {
	got, err := manifestTools([]byte(`{"tools":[{"name":"a","description":"First line.\nMore for the model.","inputSchema":{}},{"name":"b","description":"Only line. "}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []manifestTool{{"a", "First line."}, {"b", "Only line."}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{`{"tools":[]}`, `not json`} {
		if _, err := manifestTools([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestWriteBundleIsReproducible checks that the zip depends on nothing but
// the files: not the order they come in, not the time, with fixed dates,
// Unix modes and no directory entries.
func TestWriteBundleIsReproducible(t *testing.T) {
	files := []bundleFile{
		{Name: "server/plannr-mcp", Mode: 0o755, Data: bytes.Repeat([]byte("binary "), 1000)},
		{Name: "icon.png", Mode: 0o644, Data: []byte("png")},
		{Name: "manifest.json", Mode: 0o644, Data: []byte(`{}`)},
	}
	var first, second bytes.Buffer
	if err := writeBundle(&first, files); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a zip's time has a resolution of 2 s, its extended field 1 s
	reversed := slices.Clone(files)
	slices.Reverse(reversed)
	if err := writeBundle(&second, reversed); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Fatal("two bundles of the same files differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(first.Bytes()), int64(first.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(fixedTime()) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, fixedTime())
		}
		if f.CreatorVersion>>8 != 3 {
			t.Errorf("%s: made by %d, want 3 (Unix), so that hosts read the mode", f.Name, f.CreatorVersion>>8)
		}
		want := fs.FileMode(0o644)
		if f.Name == "server/plannr-mcp" {
			want = 0o755
		}
		if f.Mode() != want {
			t.Errorf("%s: mode %v, want %v", f.Name, f.Mode(), want)
		}
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		if i := slices.IndexFunc(files, func(b bundleFile) bool { return b.Name == f.Name }); !bytes.Equal(data, files[i].Data) {
			t.Errorf("%s: contents differ", f.Name)
		}
	}
	if want := []string{"manifest.json", "icon.png", "server/plannr-mcp"}; !slices.Equal(names, want) {
		t.Errorf("entries %q, want %q", names, want)
	}

	for _, bad := range [][]bundleFile{
		{{Name: "../escape", Mode: 0o644}},
		{{Name: "/abs", Mode: 0o644}},
		{{Name: "a//b", Mode: 0o644}},
		{{Name: "twice", Mode: 0o644}, {Name: "twice", Mode: 0o644}},
	} {
		if err := writeBundle(io.Discard, bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// TestBundleContents checks the built bundle: the manifest, the icon and
// one executable for each platform, at the paths the manifest names.
func TestBundleContents(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			dir := t.TempDir()
			unpackBundle(t, f.bundlePath(), dir)
			m := readManifest(t, dir)
			if m.ManifestVersion != manifestVersion || m.Version != f.Version.semver {
				t.Errorf("manifest_version %q, version %q", m.ManifestVersion, m.Version)
			}
			plan := bundlePlan(f.Targets)
			zr, err := zip.OpenReader(f.bundlePath())
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			want := []string{"manifest.json", bundleIcon}
			for _, p := range plan {
				want = append(want, p.Path)
			}
			var got []string
			for _, e := range zr.File {
				got = append(got, e.Name)
			}
			if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
				t.Errorf("entries %q, want %q", got, want)
			}
			for _, p := range plan {
				l, err := resolveLaunch(m, "/bundle", p.Platform, nil)
				if err != nil {
					t.Fatal(err)
				}
				if l.Command != "/bundle/"+p.Path {
					t.Errorf("on %s the host runs %q, want /bundle/%s", p.Platform, l.Command, p.Path)
				}
			}
		})
	}
}
