package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A target is one operating system and CPU architecture a release binary
// is built for, in Go's terms (GOOS and GOARCH).
type target struct {
	OS   string
	Arch string
}

// allTargets returns the platforms of a release, in the order they are built.
func allTargets() []target {
	return []target{
		{"linux", "amd64"},
		{"linux", "arm64"},
		{"darwin", "amd64"},
		{"darwin", "arm64"},
		{"windows", "amd64"},
		{"windows", "arm64"},
	}
}

func (t target) String() string { return t.OS + "/" + t.Arch }

// exe is the suffix an executable needs on the target.
func (t target) exe() string {
	if t.OS == "windows" {
		return ".exe"
	}
	return ""
}

// binaryName is the file name of the target's release binary, such as
// plannr-mcp_1.2.3_linux_amd64 or plannr-mcp_1.2.3_windows_arm64.exe.
func (t target) binaryName(v version) string {
	return fmt.Sprintf("%s_%s_%s_%s%s", binaryBase, v.semver, t.OS, t.Arch, t.exe())
}

// platform is the target's operating system as MCPB manifests name it
// (Node.js's process.platform).
func (t target) platform() string {
	if t.OS == "windows" {
		return "win32"
	}
	return t.OS
}

// parseTargets reads a comma-separated list of os/arch pairs, each one of
// allTargets, or "all". The result keeps the order of allTargets.
func parseTargets(list string) ([]target, error) {
	all := allTargets()
	if strings.TrimSpace(list) == "all" {
		return all, nil
	}
	var picked []target
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := slices.IndexFunc(all, func(t target) bool { return t.String() == item })
		if i < 0 {
			return nil, fmt.Errorf("unknown target %q: use os/arch pairs from %s, or all", item, targetList(all))
		}
		if !slices.Contains(picked, all[i]) {
			picked = append(picked, all[i])
		}
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("no target named in %q", list)
	}
	slices.SortFunc(picked, func(a, b target) int {
		return slices.Index(all, a) - slices.Index(all, b)
	})
	return picked, nil
}

func targetList(ts []target) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.String()
	}
	return strings.Join(names, ",")
}

// A version is a release's version, as a tag (v1.2.3) and as the semantic
// version without the v (1.2.3). Binaries report the tag, as a binary
// installed with go install reports its module version; the MCPB manifest,
// server.json and the file names use the semantic version.
type version struct {
	tag    string
	semver string
}

// semverPattern is Semantic Versioning 2.0.0's grammar, with an optional v.
var semverPattern = regexp.MustCompile(`^v?((0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?)$`)

// parseVersion reads v1.2.3 or 1.2.3, with an optional pre-release and
// build suffix.
func parseVersion(s string) (version, error) {
	m := semverPattern.FindStringSubmatch(s)
	if m == nil {
		return version{}, fmt.Errorf("version %q is not a semantic version such as v1.2.3", s)
	}
	return version{tag: "v" + m[1], semver: m[1]}, nil
}
