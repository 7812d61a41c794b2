package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// buildEnv is the environment of a release build: the caller's, with every
// setting that changes the output pinned, so that two builds of one commit
// with one Go toolchain give the same bytes wherever they run.
func buildEnv(base []string, t target) []string {
	pinned := []string{
		"GOOS=" + t.OS,
		"GOARCH=" + t.Arch,
		"CGO_ENABLED=0", // static, and no C toolchain in the build
		"GOFLAGS=",      // no -tags, -race or -mod from the caller's settings
		"GOWORK=off",    // only this module's go.mod and go.sum
		"GOEXPERIMENT=",
		// The baseline instruction sets, which every machine of the
		// architecture runs; the caller's GOAMD64 or GOARM64 would change
		// the code.
		"GOAMD64=v1",
		"GOARM64=v8.0",
	}
	isPinned := func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.ContainsFunc(pinned, func(p string) bool { return strings.HasPrefix(p, name+"=") })
	}
	env := slices.DeleteFunc(slices.Clone(base), isPinned)
	return append(env, pinned...)
}

// buildArgs are the go build arguments of a release binary:
//   - -trimpath drops the paths of this machine (the module's directory,
//     GOROOT, the module cache) from the binary;
//   - -buildvcs=false leaves out the VCS stamp: it records whether the work
//     tree has uncommitted or untracked files (vcs.modified), which would
//     make the bytes depend on the state of a checkout rather than on the
//     commit, and the release version is stamped explicitly instead;
//   - -s -w drop the symbol table and DWARF, and -buildid= the build ID,
//     which is a hash of the build's inputs and paths;
//   - -X main.version stamps the version that plannr-mcp version prints.
//
// Nothing in the build reads the clock, so no date ends up in a binary.
func buildArgs(v version, out string) []string {
	return []string{
		"build",
		"-trimpath",
		"-buildvcs=false",
		"-ldflags=-s -w -buildid= -X main.version=" + v.tag,
		"-o", out,
		".",
	}
}

// buildBinary builds the plannr-mcp binary of the module in moduleDir for
// t, stamped with v, into out.
func buildBinary(ctx context.Context, moduleDir string, t target, v version, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", buildArgs(v, out)...)
	cmd.Dir = moduleDir
	cmd.Env = buildEnv(os.Environ(), t)
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %w\n%s", t, err, output.Bytes())
	}
	// go build writes the file with the umask's bits; a release binary is
	// always rwxr-xr-x.
	if err := os.Chmod(out, 0o755); err != nil {
		return fmt.Errorf("go build for %s: %w", t, err)
	}
	return nil
}

// moduleRoot returns the directory of the main module: the go.mod that go
// finds from dir.
func moduleRoot(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOMOD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("no go.mod found from %s", dir)
	}
	return filepath.Dir(gomod), nil
}

// goVersion returns the version of the go command that builds the release.
func goVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
