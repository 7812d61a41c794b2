package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// binaryBase is the name every release file starts with.
const binaryBase = "plannr-mcp"

// options are what a release is built from.
type options struct {
	Version version
	// Out is the directory the release is written to; it must not exist
	// or be empty.
	Out string
	// Targets are the platforms to build binaries for.
	Targets []target
	// ModuleDir is the directory of the plannr-mcp module.
	ModuleDir string
	// DownloadURL is where the release's files will be served; empty
	// means the GitHub release of the repository server.json names.
	DownloadURL string
	// Log receives progress, one line a step.
	Log io.Writer
}

// A releaseResult is what a release produced.
type releaseResult struct {
	// Files are every file of the release but SHA256SUMS, by name.
	Files []releaseFile
	// Bundle is the .mcpb's name.
	Bundle string
}

// bundleName is the file name of the release's .mcpb bundle.
func bundleName(v version) string { return fmt.Sprintf("%s_%s.mcpb", binaryBase, v.semver) }

// buildRelease builds the release into opts.Out: one binary a target, the
// bundle, server.json and SHA256SUMS.
func buildRelease(ctx context.Context, opts options) (*releaseResult, error) {
	if err := prepareOut(opts.Out); err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(opts.Log, format+"\n", args...) }

	binaries := map[target]releaseFile{}
	for _, t := range opts.Targets {
		name := t.binaryName(opts.Version)
		start := time.Now()
		if err := buildBinary(ctx, opts.ModuleDir, t, opts.Version, filepath.Join(opts.Out, name)); err != nil {
			return nil, err
		}
		sum, err := sha256File(filepath.Join(opts.Out, name))
		if err != nil {
			return nil, err
		}
		binaries[t] = releaseFile{Name: name, SHA256: sum}
		logf("built %s in %.1fs", name, time.Since(start).Seconds())
	}

	host, cleanup, err := hostBinary(ctx, opts, binaries)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	res := &releaseResult{Bundle: bundleName(opts.Version)}
	out, err := runBinary(ctx, host, "version")
	if err != nil {
		return nil, err
	}
	// The version stamped with -X main.version is what plannr-mcp version
	// and initialize report; a binary that ignores it is no release.
	if got, want := strings.TrimSpace(string(out)), binaryBase+" "+opts.Version.tag; got != want {
		return nil, fmt.Errorf("plannr-mcp version printed %q, want %q: the binary does not report the version stamped with -X main.version", got, want)
	}
	toolsJSON, err := runBinary(ctx, host, "tools")
	if err != nil {
		return nil, err
	}
	tools, err := manifestTools(toolsJSON)
	if err != nil {
		return nil, err
	}

	tmpl, err := loadManifestTemplate()
	if err != nil {
		return nil, err
	}
	plan := bundlePlan(opts.Targets)
	m, err := completeManifest(tmpl, opts.Version, tools, plan)
	if err != nil {
		return nil, err
	}
	files, err := bundleFiles(m, plan, func(t target) ([]byte, error) {
		return os.ReadFile(filepath.Join(opts.Out, binaries[t].Name))
	})
	if err != nil {
		return nil, err
	}
	var zipped bytes.Buffer
	if err := writeBundle(&zipped, files); err != nil {
		return nil, err
	}
	bundle, err := writeFile(opts.Out, res.Bundle, zipped.Bytes())
	if err != nil {
		return nil, err
	}
	logf("packed %s (%s) for %s", bundle.Name, platformsOf(plan), targetList(bundleTargets(plan)))

	srvTmpl, err := loadServerJSON(filepath.Join(opts.ModuleDir, "server.json"))
	if err != nil {
		return nil, err
	}
	downloadURL := opts.DownloadURL
	if downloadURL == "" {
		if downloadURL, err = defaultDownloadURL(srvTmpl, opts.Version); err != nil {
			return nil, err
		}
	}
	srv, err := completeServerJSON(srvTmpl, opts.Version, downloadURL, bundle, binaries, opts.Targets)
	if err != nil {
		return nil, err
	}
	srvData, err := encodeIndented(srv)
	if err != nil {
		return nil, err
	}
	srvFile, err := writeFile(opts.Out, "server.json", srvData)
	if err != nil {
		return nil, err
	}

	for _, t := range opts.Targets {
		res.Files = append(res.Files, binaries[t])
	}
	res.Files = append(res.Files, bundle, srvFile)
	if _, err := writeFile(opts.Out, checksumsName, formatChecksums(res.Files)); err != nil {
		return nil, err
	}
	logf("wrote server.json and %s", checksumsName)
	return res, nil
}

// prepareOut makes the output directory, which must not exist or be
// empty, so that no file of another build is mistaken for part of this one.
func prepareOut(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("output directory %s is not empty", dir)
	}
	return nil
}

// writeFile writes a release file, readable by everyone, and returns its
// name and hash.
func writeFile(dir, name string, data []byte) (releaseFile, error) {
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		return releaseFile{}, err
	}
	return releaseFile{Name: name, SHA256: sha256Hex(data)}, nil
}

// hostBinary returns a binary of this release that runs on this machine:
// the one built for it, or else one built aside, which cleanup removes.
func hostBinary(ctx context.Context, opts options, built map[target]releaseFile) (path string, cleanup func(), err error) {
	host := target{runtime.GOOS, runtime.GOARCH}
	if f, ok := built[host]; ok {
		return filepath.Join(opts.Out, f.Name), func() {}, nil
	}
	dir, err := os.MkdirTemp("", "plannr-mcp-host-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, binaryBase+host.exe())
	if err := buildBinary(ctx, opts.ModuleDir, host, opts.Version, path); err != nil {
		cleanup()
		return "", nil, err
	}
	return path, cleanup, nil
}

// runBinary runs a plannr-mcp command that prints something and exits,
// with no PLANNR_ setting of the caller's, which could change what it
// prints (PLANNR_MCP_READ_ONLY or PLANNR_MCP_TOOLS change the tools).
func runBinary(ctx context.Context, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PLANNR_") })
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("plannr-mcp %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

func platformsOf(plan []bundlePlatform) string {
	var ps []string
	for _, p := range plan {
		ps = append(ps, p.Platform)
	}
	return strings.Join(ps, ", ")
}

func bundleTargets(plan []bundlePlatform) []target {
	var ts []target
	for _, p := range plan {
		ts = append(ts, p.Targets...)
	}
	return ts
}
