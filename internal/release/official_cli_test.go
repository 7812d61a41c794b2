package main

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// mcpbCLI returns the official mcpb command that npm ci installs in this
// directory (package.json pins its version), or skips the test without
// it, unless CI is set.
func mcpbCLI(t *testing.T) string {
	t.Helper()
	name := "mcpb"
	if runtime.GOOS == "windows" {
		name += ".cmd"
	}
	path, err := filepath.Abs(filepath.Join("node_modules", ".bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but the official mcpb command is missing: run npm ci in internal/release (%v)", err)
		}
		t.Skipf("the official mcpb command is missing (npm ci in internal/release): %v", err)
	}
	return path
}

// runMCPB runs the official mcpb command and returns what it printed.
func runMCPB(t *testing.T, cli string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mcpb %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// A zipEntry is what an MCPB host reads from an entry of a bundle.
type zipEntry struct {
	Name string
	Perm os.FileMode
	Data []byte
}

func readZip(t *testing.T, path string) []zipEntry {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var entries []zipEntry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, zipEntry{Name: f.Name, Perm: f.Mode().Perm(), Data: data})
	}
	slices.SortFunc(entries, func(a, b zipEntry) int { return strings.Compare(a.Name, b.Name) })
	return entries
}

// TestOfficialCLI hands the bundle to the official mcpb command: it
// unpacks it (restoring the executables' modes), validates the manifest
// inside it, reads its information, and packs the unpacked files again.
// The bundle this program writes must hold the same files, modes and
// bytes as the one mcpb pack makes of them; only the timestamps, which
// mcpb pack takes from the clock, differ.
func TestOfficialCLI(t *testing.T) {
	cli := mcpbCLI(t)
	if v := strings.TrimSpace(runMCPB(t, cli, "--version")); v != "2.1.2" {
		t.Errorf("mcpb --version %q, want the version package.json pins", v)
	}
	for _, f := range fixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			dir := t.TempDir()
			unpacked := filepath.Join(dir, "unpacked")
			runMCPB(t, cli, "unpack", f.bundlePath(), unpacked)
			if out := runMCPB(t, cli, "validate", filepath.Join(unpacked, "manifest.json")); !strings.Contains(out, "Manifest schema validation passes!") {
				t.Errorf("mcpb validate:\n%s", out)
			}
			if out := runMCPB(t, cli, "info", f.bundlePath()); !strings.Contains(out, "File: "+bundleName(f.Version)) {
				t.Errorf("mcpb info:\n%s", out)
			}
			repacked := filepath.Join(dir, "official.mcpb")
			runMCPB(t, cli, "pack", unpacked, repacked)

			ours, theirs := readZip(t, f.bundlePath()), readZip(t, repacked)
			if len(ours) != len(theirs) {
				t.Fatalf("%d entries, mcpb pack made %d", len(ours), len(theirs))
			}
			for i := range ours {
				a, b := ours[i], theirs[i]
				if a.Name != b.Name || a.Perm != b.Perm || !bytes.Equal(a.Data, b.Data) {
					t.Errorf("entry %d: ours %s %v (%d bytes), mcpb pack's %s %v (%d bytes)", i, a.Name, a.Perm, len(a.Data), b.Name, b.Perm, len(b.Data))
				}
				if runtime.GOOS != "windows" && strings.HasPrefix(a.Name, "server/") {
					info, err := os.Stat(filepath.Join(unpacked, filepath.FromSlash(a.Name)))
					if err != nil {
						t.Fatal(err)
					}
					if info.Mode().Perm() != 0o755 {
						t.Errorf("mcpb unpack made %s %v, want 0755", a.Name, info.Mode().Perm())
					}
				}
			}
		})
	}
}
