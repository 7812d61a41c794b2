package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Tests build a release of this machine's target only, which takes seconds
// once the build cache is warm; cross-compiling all six targets takes
// minutes on a small machine. Set PLANNR_RELEASE_TARGETS=all (or a list of
// os/arch pairs) to build more, and PLANNR_RELEASE_DIST to the directory
// of a full release already built (as ci.sh does) to check that one too.
const (
	envTargets = "PLANNR_RELEASE_TARGETS"
	envDist    = "PLANNR_RELEASE_DIST"
)

// testVersion is the version the tests release.
const testVersion = "v1.2.3"

// testRoot is a directory for the whole test run, which TestMain removes.
var testRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plannr-mcp-release-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// A fixture is a release directory to check.
type fixture struct {
	Name    string
	Dir     string
	Version version
	Targets []target
}

func (f *fixture) bundlePath() string { return filepath.Join(f.Dir, bundleName(f.Version)) }

func (f *fixture) binaryPath(t target) string {
	return filepath.Join(f.Dir, t.binaryName(f.Version))
}

// errNoHostTarget means this machine is none of the release's targets.
var errNoHostTarget = errors.New("no release target for this machine")

// testOptions are the options of the tests' own release, written to out.
func testOptions(out string) (options, error) {
	v, err := parseVersion(testVersion)
	if err != nil {
		return options{}, err
	}
	list := os.Getenv(envTargets)
	if list == "" {
		host := target{runtime.GOOS, runtime.GOARCH}
		if !slices.Contains(allTargets(), host) {
			return options{}, fmt.Errorf("%w (%s); set %s", errNoHostTarget, host, envTargets)
		}
		list = host.String()
	}
	targets, err := parseTargets(list)
	if err != nil {
		return options{}, fmt.Errorf("%s: %w", envTargets, err)
	}
	moduleDir, err := moduleRoot(context.Background(), ".")
	if err != nil {
		return options{}, err
	}
	return options{Version: v, Out: out, Targets: targets, ModuleDir: moduleDir, Log: io.Discard}, nil
}

// ownRelease is the tests' own release, built once for the whole run.
var ownRelease = sync.OnceValues(func() (*fixture, error) {
	opts, err := testOptions(filepath.Join(testRoot, "own"))
	if err != nil {
		return nil, err
	}
	if _, err := buildRelease(context.Background(), opts); err != nil {
		return nil, err
	}
	return &fixture{Name: "own", Dir: opts.Out, Version: opts.Version, Targets: opts.Targets}, nil
})

func ownFixture(t *testing.T) *fixture {
	t.Helper()
	f, err := ownRelease()
	if errors.Is(err, errNoHostTarget) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("building the test release: %v", err)
	}
	return f
}

// fixtures are the releases to check: the tests' own and, with
// PLANNR_RELEASE_DIST, the one in that directory.
func fixtures(t *testing.T) []*fixture {
	t.Helper()
	fs := []*fixture{ownFixture(t)}
	if dir := os.Getenv(envDist); dir != "" {
		f, err := readFixture(dir)
		if err != nil {
			t.Fatalf("%s=%s: %v", envDist, dir, err)
		}
		fs = append(fs, f)
	}
	return fs
}

// readFixture reads a release built earlier: its version from its
// server.json, its targets from the binaries SHA256SUMS lists.
func readFixture(dir string) (*fixture, error) {
	srv, err := loadServerJSON(filepath.Join(dir, "server.json"))
	if err != nil {
		return nil, err
	}
	v, err := parseVersion(srv.Version)
	if err != nil {
		return nil, err
	}
	sums, err := os.ReadFile(filepath.Join(dir, checksumsName))
	if err != nil {
		return nil, err
	}
	files, err := parseChecksums(bytes.NewReader(sums))
	if err != nil {
		return nil, err
	}
	f := &fixture{Name: "dist", Dir: dir, Version: v}
	for _, t := range allTargets() {
		if slices.ContainsFunc(files, func(r releaseFile) bool { return r.Name == t.binaryName(v) }) {
			f.Targets = append(f.Targets, t)
		}
	}
	return f, nil
}

// TestReleaseFiles checks that a release has exactly its files, that
// SHA256SUMS lists every other file with its hash, and that the binaries
// are executable.
func TestReleaseFiles(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			want := []string{checksumsName, bundleName(f.Version), "server.json"}
			for _, tg := range f.Targets {
				want = append(want, tg.binaryName(f.Version))
			}
			slices.Sort(want)
			got, err := fileNames(f.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("files\n got %q\nwant %q", got, want)
			}

			data, err := os.ReadFile(filepath.Join(f.Dir, checksumsName))
			if err != nil {
				t.Fatal(err)
			}
			sums, err := parseChecksums(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, s := range sums {
				listed = append(listed, s.Name)
				got, err := sha256File(filepath.Join(f.Dir, s.Name))
				if err != nil {
					t.Fatal(err)
				}
				if got != s.SHA256 {
					t.Errorf("%s: SHA256SUMS says %s, the file's is %s", s.Name, s.SHA256, got)
				}
			}
			if w := slices.DeleteFunc(slices.Clone(want), func(n string) bool { return n == checksumsName }); !slices.Equal(listed, w) {
				t.Errorf("SHA256SUMS lists %q, want %q (sorted)", listed, w)
			}
			if !bytes.Equal(formatChecksums(sums), data) {
				t.Errorf("SHA256SUMS is not in the canonical format:\n%s", data)
			}

			for _, tg := range f.Targets {
				info, err := os.Stat(f.binaryPath(tg))
				if err != nil {
					t.Fatal(err)
				}
				if runtime.GOOS != "windows" && info.Mode().Perm() != 0o755 {
					t.Errorf("%s: mode %v, want 0755", info.Name(), info.Mode().Perm())
				}
			}
		})
	}
}

// TestBinaryVersion runs this machine's binary of the release: plannr-mcp
// version must print the release's tag, stamped with -X main.version.
func TestBinaryVersion(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			host := target{runtime.GOOS, runtime.GOARCH}
			if !slices.Contains(f.Targets, host) {
				t.Skipf("the release has no binary for %s", host)
			}
			out, err := runBinary(context.Background(), f.binaryPath(host), "version")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.TrimSpace(string(out)), "plannr-mcp "+f.Version.tag; got != want {
				t.Fatalf("plannr-mcp version printed %q, want %q", got, want)
			}
		})
	}
}

// TestReproducible builds the tests' release a second time into another
// directory and compares every file with the first build, byte for byte.
// ci.sh does the same for all six targets with -check-reproducible.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release a second time; skipped with -short")
	}
	first := ownFixture(t)
	opts, err := testOptions(filepath.Join(t.TempDir(), "again"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buildRelease(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	diffs, err := compareDirs(first.Dir, opts.Out)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}

func TestCompareDirs(t *testing.T) {
	write := func(dir, name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, b := t.TempDir(), t.TempDir()
	write(a, "same", "x")
	write(b, "same", "x")
	write(a, "changed", "abcd")
	write(b, "changed", "abXd!")
	write(a, "only-a", "")
	write(b, "only-b", "")
	diffs, err := compareDirs(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"only-a: only in the first build",
		"only-b: only in the second build",
		"changed: differs from byte 2 (sizes 4 and 5)",
	}
	if !slices.Equal(diffs, want) {
		t.Errorf("got %q\nwant %q", diffs, want)
	}
}

func TestPrepareOutRefusesFilesOfAnotherBuild(t *testing.T) {
	if err := prepareOut(filepath.Join(t.TempDir(), "new", "dist")); err != nil {
		t.Errorf("a directory that does not exist: %v", err)
	}
	dir := t.TempDir()
	if err := prepareOut(dir); err != nil {
		t.Errorf("an empty directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stale"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := prepareOut(dir); err == nil {
		t.Error("a directory with a file in it was accepted")
	}
}

func TestChecksumsFormat(t *testing.T) {
	files := []releaseFile{
		{Name: "b", SHA256: strings.Repeat("1", 64)},
		{Name: "a.mcpb", SHA256: strings.Repeat("a", 64)},
	}
	got := string(formatChecksums(files))
	want := strings.Repeat("a", 64) + "  a.mcpb\n" + strings.Repeat("1", 64) + "  b\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	parsed, err := parseChecksums(strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed) != 2 || parsed[0].Name != "a.mcpb" || parsed[1].SHA256 != files[0].SHA256 {
		t.Errorf("parsed %+v", parsed)
	}
	for _, bad := range []string{
		"abc  file\n",
		strings.Repeat("g", 64) + "  file\n",
		strings.Repeat("a", 64) + " file\n",
		strings.Repeat("a", 64) + "  dir/file\n",
	} {
		if _, err := parseChecksums(strings.NewReader(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}
