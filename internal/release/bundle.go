package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	_ "embed"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// The bundle is one .mcpb for every platform, not one per platform. A
// person installing it in Claude Desktop then has one file to pick, and
// the MCP Registry one package to list (a registry package names no
// platform, so a client could not choose between per-platform bundles).
// The MCPB manifest can vary the command by operating system
// (platform_overrides) but not by CPU, so each operating system gets one
// executable that runs on all of its CPUs:
//
//   - macOS: a universal Mach-O of the amd64 and arm64 binaries, from which
//     macOS itself runs the slice of the machine (no Rosetta needed on
//     Apple silicon);
//   - Windows: the amd64 binary, which Windows 11 on Arm runs under its
//     x64 emulation;
//   - Linux, where Claude Desktop does not run but other MCPB hosts may:
//     the amd64 binary. On arm64 Linux, use the plain binary.
//
// The native windows/arm64 and linux/arm64 binaries are released beside
// the bundle. The paths below also make the base command right for a host
// that ignores platform_overrides and appends .exe on Windows, as the
// specification says hosts do.
const (
	bundleDarwin  = "server/plannr-mcp"
	bundleWindows = "server/plannr-mcp.exe"
	bundleLinux   = "server/linux/plannr-mcp"
	bundleIcon    = "icon.png"
)

// fixedTime is the modification time of every entry of the bundle, so that
// its bytes do not depend on when it was built: 1980-01-01 00:00 UTC, the
// earliest time a zip's MS-DOS timestamp can hold.
func fixedTime() time.Time { return time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC) }

//go:embed icon.png
var iconPNG []byte

// A bundleFile is one file of the bundle.
type bundleFile struct {
	Name string // slash-separated path inside the bundle
	Mode fs.FileMode
	Data []byte
}

// A bundlePlatform is the executable the bundle runs on one platform.
type bundlePlatform struct {
	Platform string // darwin, win32 or linux
	Path     string // in the bundle
	Targets  []target
}

// bundlePlan picks, from the binaries built, each platform's executable:
// both darwin binaries make a universal one; on Windows and Linux amd64 is
// preferred, arm64 used when it is the only one built. Platforms without a
// binary are left out.
func bundlePlan(built []target) []bundlePlatform {
	has := func(t target) bool { return slices.Contains(built, t) }
	var plan []bundlePlatform
	var darwin []target
	for _, arch := range []string{"amd64", "arm64"} {
		if t := (target{"darwin", arch}); has(t) {
			darwin = append(darwin, t)
		}
	}
	if len(darwin) > 0 {
		plan = append(plan, bundlePlatform{"darwin", bundleDarwin, darwin})
	}
	for _, p := range []struct{ os, platform, path string }{
		{"windows", "win32", bundleWindows},
		{"linux", "linux", bundleLinux},
	} {
		for _, arch := range []string{"amd64", "arm64"} {
			if t := (target{p.os, arch}); has(t) {
				plan = append(plan, bundlePlatform{p.platform, p.path, []target{t}})
				break
			}
		}
	}
	return plan
}

// completeManifest fills the template's gaps: the version, the tools and,
// from the plan, the platforms and where each one's executable is. The
// first platform's executable is the base command and entry point; the
// others are platform_overrides.
func completeManifest(tmpl *manifest, v version, tools []manifestTool, plan []bundlePlatform) (*manifest, error) {
	if len(plan) == 0 {
		return nil, fmt.Errorf("the bundle has no executable for any platform")
	}
	m := *tmpl
	m.Version = v.semver
	m.Tools = tools
	m.Icon = bundleIcon
	m.Server.EntryPoint = plan[0].Path
	m.Server.MCPConfig.Command = "${__dirname}/" + plan[0].Path
	m.Server.MCPConfig.PlatformOverrides = nil
	var platforms []string
	for _, p := range plan {
		platforms = append(platforms, p.Platform)
		if p.Path == plan[0].Path {
			continue
		}
		if m.Server.MCPConfig.PlatformOverrides == nil {
			m.Server.MCPConfig.PlatformOverrides = map[string]platformOverride{}
		}
		m.Server.MCPConfig.PlatformOverrides[p.Platform] = platformOverride{Command: "${__dirname}/" + p.Path}
	}
	compat := compatibility{}
	if tmpl.Compatibility != nil {
		compat = *tmpl.Compatibility
	}
	compat.Platforms = platforms
	m.Compatibility = &compat
	return &m, nil
}

// bundleFiles returns the files of the bundle: the manifest, the icon and
// each platform's executable, read with readBinary.
func bundleFiles(m *manifest, plan []bundlePlatform, readBinary func(target) ([]byte, error)) ([]bundleFile, error) {
	manifestJSON, err := encodeIndented(m)
	if err != nil {
		return nil, fmt.Errorf("encoding manifest.json: %w", err)
	}
	files := []bundleFile{
		{Name: "manifest.json", Mode: 0o644, Data: manifestJSON},
		{Name: bundleIcon, Mode: 0o644, Data: iconPNG},
	}
	for _, p := range plan {
		bins := make([][]byte, len(p.Targets))
		for i, t := range p.Targets {
			if bins[i], err = readBinary(t); err != nil {
				return nil, err
			}
		}
		data := bins[0]
		if len(bins) > 1 {
			var fat bytes.Buffer
			if err := writeUniversal(&fat, bins...); err != nil {
				return nil, fmt.Errorf("universal binary for %s: %w", p.Platform, err)
			}
			data = fat.Bytes()
		}
		files = append(files, bundleFile{Name: p.Path, Mode: 0o755, Data: data})
	}
	return files, nil
}

// writeBundle writes files as a zip that depends on nothing but their
// names, modes and contents: manifest.json first, then the rest in byte
// order of their names; every entry dated fixedTime, with Unix permissions
// (which MCPB hosts restore on unpacking) and compressed at flate's best
// level. There are no directory entries, as mcpb pack makes none either.
func writeBundle(w io.Writer, files []bundleFile) error {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b bundleFile) int {
		if (a.Name == "manifest.json") != (b.Name == "manifest.json") {
			if a.Name == "manifest.json" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	for i, f := range files {
		if i > 0 && files[i-1].Name == f.Name {
			return fmt.Errorf("bundle: %s twice", f.Name)
		}
		if !fs.ValidPath(f.Name) || path.Clean(f.Name) != f.Name {
			return fmt.Errorf("bundle: bad path %q", f.Name)
		}
		h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: fixedTime()}
		h.SetMode(f.Mode)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("bundle: %s: %w", f.Name, err)
		}
		if _, err := fw.Write(f.Data); err != nil {
			return fmt.Errorf("bundle: %s: %w", f.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}
