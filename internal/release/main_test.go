package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in, tag, semver string
	}{
		{"v1.2.3", "v1.2.3", "1.2.3"},
		{"1.2.3", "v1.2.3", "1.2.3"},
		{"v0.1.0-rc.1", "v0.1.0-rc.1", "0.1.0-rc.1"},
		{"v2.0.0-beta.2+exp.sha.5114f85", "v2.0.0-beta.2+exp.sha.5114f85", "2.0.0-beta.2+exp.sha.5114f85"},
	}
	for _, tt := range tests {
		v, err := parseVersion(tt.in)
		if err != nil || v.tag != tt.tag || v.semver != tt.semver {
			t.Errorf("parseVersion(%q) = %+v, %v; want %s, %s", tt.in, v, err, tt.tag, tt.semver)
		}
	}
	for _, bad := range []string{"", "v1", "1.2", "v01.2.3", "v1.2.3-", "vv1.2.3", "latest", "^1.2.3", "1.2.3 "} {
		if v, err := parseVersion(bad); err == nil {
			t.Errorf("parseVersion(%q) = %+v", bad, v)
		}
	}
}

func TestParseTargets(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"all", "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64"},
		{"windows/arm64, linux/amd64", "linux/amd64,windows/arm64"},
		{"darwin/arm64,darwin/arm64", "darwin/arm64"},
	}
	for _, tt := range tests {
		got, err := parseTargets(tt.in)
		if err != nil || targetList(got) != tt.want {
			t.Errorf("parseTargets(%q) = %s, %v; want %s", tt.in, targetList(got), err, tt.want)
		}
	}
	for _, bad := range []string{"", ",", "linux/386", "plan9/amd64", "linux"} {
		if got, err := parseTargets(bad); err == nil {
			t.Errorf("parseTargets(%q) = %s", bad, targetList(got))
		}
	}
}

func TestTargetNames(t *testing.T) {
	v, _ := parseVersion("v1.2.3")
	tests := []struct {
		t              target
		file, platform string
	}{
		{target{"linux", "amd64"}, "plannr-mcp_1.2.3_linux_amd64", "linux"},
		{target{"darwin", "arm64"}, "plannr-mcp_1.2.3_darwin_arm64", "darwin"},
		{target{"windows", "arm64"}, "plannr-mcp_1.2.3_windows_arm64.exe", "win32"},
	}
	for _, tt := range tests {
		if got := tt.t.binaryName(v); got != tt.file {
			t.Errorf("%s: %q, want %q", tt.t, got, tt.file)
		}
		if got := tt.t.platform(); got != tt.platform {
			t.Errorf("%s: platform %q, want %q", tt.t, got, tt.platform)
		}
	}
	if got := bundleName(v); got != "plannr-mcp_1.2.3.mcpb" {
		t.Errorf("bundle %q", got)
	}
}

func TestBuildEnvPinsWhatChangesTheOutput(t *testing.T) {
	base := []string{"PATH=/bin", "GOFLAGS=-race", "GOAMD64=v3", "CGO_ENABLED=1", "GOOS=plan9", "HOME=/home/x", "GOWORK=/w/go.work"}
	env := buildEnv(base, target{"darwin", "arm64"})
	get := func(name string) []string {
		var vals []string
		for _, kv := range env {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				vals = append(vals, v)
			}
		}
		return vals
	}
	for name, want := range map[string]string{
		"GOOS": "darwin", "GOARCH": "arm64", "CGO_ENABLED": "0", "GOFLAGS": "", "GOAMD64": "v1",
		"GOARM64": "v8.0", "GOWORK": "off", "GOEXPERIMENT": "", "PATH": "/bin", "HOME": "/home/x",
	} {
		if got := get(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want exactly %q", name, got, want)
		}
	}
	args := strings.Join(buildArgs(version{tag: "v1.2.3"}, "out"), " ")
	for _, want := range []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid= -X main.version=v1.2.3"} {
		if !strings.Contains(args, want) {
			t.Errorf("go %s: no %s", args, want)
		}
	}
}

func TestRunUsage(t *testing.T) {
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "old"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{"help", []string{"-h"}, 0, "Usage: go run ./internal/release", ""},
		{"nothing", nil, 2, "", "-version and -out are required"},
		{"no out", []string{"-version", "v1.0.0"}, 2, "", "-version and -out are required"},
		{"bad version", []string{"-version", "one", "-out", "x"}, 2, "", "not a semantic version"},
		{"bad target", []string{"-version", "v1.0.0", "-out", "x", "-targets", "linux/mips"}, 2, "", "unknown target"},
		{"an argument", []string{"-version", "v1.0.0", "-out", "x", "extra"}, 2, "", "unexpected arguments"},
		{"an unknown flag", []string{"-colour"}, 2, "", "flag provided but not defined"},
		{"a used output directory", []string{"-version", "v1.0.0", "-out", nonEmpty, "-targets", "linux/amd64"}, 1, "", "is not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stdout %q, want %q in it; stderr %q, want %q in it", &stdout, tt.wantStdout, &stderr, tt.wantStderr)
			}
		})
	}
}
