package main

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// registrySchemaURL is the MCP Registry's server.json schema that
// server.json follows; the registry's Go module ships it as
// internal/validators/schemas/2025-12-11.json.
const registrySchemaURL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"

// serverJSON is the MCP Registry's description of the server, with the
// fields this project uses, in the order the registry documents them.
type serverJSON struct {
	Schema      string            `json:"$schema"`
	Name        string            `json:"name"`
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description"`
	Version     string            `json:"version"`
	WebsiteURL  string            `json:"websiteUrl,omitempty"`
	Repository  *registryRepo     `json:"repository,omitempty"`
	Packages    []registryPackage `json:"packages,omitempty"`
	Meta        *serverMeta       `json:"_meta,omitempty"`
}

type registryRepo struct {
	URL    string `json:"url"`
	Source string `json:"source"`
}

// A registryPackage is one way to install the server. The release has
// one: the .mcpb bundle, which runs on every platform.
type registryPackage struct {
	RegistryType         string            `json:"registryType"`
	Identifier           string            `json:"identifier"`
	Version              string            `json:"version,omitempty"`
	FileSHA256           string            `json:"fileSha256,omitempty"`
	Transport            registryTransport `json:"transport"`
	EnvironmentVariables []registryEnvVar  `json:"environmentVariables,omitempty"`
}

type registryTransport struct {
	Type string `json:"type"`
}

// A registryEnvVar is an environment variable a client may set when it
// runs the package.
type registryEnvVar struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Format      string `json:"format,omitempty"`
	Default     string `json:"default,omitempty"`
	IsRequired  bool   `json:"isRequired"`
	IsSecret    bool   `json:"isSecret"`
}

// serverMeta carries what the registry's package list cannot say, under
// the registry's key for data of the publisher's own.
type serverMeta struct {
	PublisherProvided *publisherMeta `json:"io.modelcontextprotocol.registry/publisher-provided,omitempty"`
}

// publisherMeta lists the plain binaries of the release. They are not
// packages: the registry has no package type for a bare executable and
// no field naming a package's platform, and a client that takes an
// "mcpb" package expects a bundle, not an executable.
type publisherMeta struct {
	Binaries []releaseBinary `json:"binaries"`
}

// A releaseBinary is one plain binary of the release.
type releaseBinary struct {
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	URL        string `json:"url"`
	FileSHA256 string `json:"fileSha256"`
}

// loadServerJSON reads a server.json, refusing fields this program does
// not know, which it would otherwise drop.
func loadServerJSON(path string) (*serverJSON, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s serverJSON
	if err := decodeStrict(bytes.NewReader(data), &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Schema != registrySchemaURL {
		return nil, fmt.Errorf("%s: $schema is %q, want %q", path, s.Schema, registrySchemaURL)
	}
	return &s, nil
}

// defaultDownloadURL is where a GitHub release of the repository serves
// its files: <repository>/releases/download/<tag>.
func defaultDownloadURL(s *serverJSON, v version) (string, error) {
	if s.Repository == nil || s.Repository.Source != "github" {
		return "", fmt.Errorf("server.json names no GitHub repository; give the download URL")
	}
	return strings.TrimSuffix(s.Repository.URL, "/") + "/releases/download/" + v.tag, nil
}

// A releaseFile is a file of the release with its SHA-256.
type releaseFile struct {
	Name   string
	SHA256 string
}

// completeServerJSON fills the template for the release: the version, the
// bundle's URL and hash in its one mcpb package, and the plain binaries.
func completeServerJSON(tmpl *serverJSON, v version, downloadURL string, bundle releaseFile, binaries map[target]releaseFile, targets []target) (*serverJSON, error) {
	base, err := url.Parse(strings.TrimSuffix(downloadURL, "/") + "/")
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("download URL %q: want an https URL", downloadURL)
	}
	fileURL := func(name string) string { return base.JoinPath(name).String() }
	s := *tmpl
	s.Version = v.semver
	s.Packages = nil
	bundles := 0
	for _, p := range tmpl.Packages {
		if p.RegistryType != "mcpb" {
			return nil, fmt.Errorf("server.json: package of type %q: only mcpb packages are released", p.RegistryType)
		}
		bundles++
		p.Identifier = fileURL(bundle.Name)
		p.Version = v.semver
		p.FileSHA256 = bundle.SHA256
		s.Packages = append(s.Packages, p)
	}
	if bundles != 1 {
		return nil, fmt.Errorf("server.json: %d mcpb packages, want 1 (the bundle)", bundles)
	}
	meta := &publisherMeta{Binaries: []releaseBinary{}}
	for _, t := range targets {
		f, ok := binaries[t]
		if !ok {
			return nil, fmt.Errorf("no binary for %s", t)
		}
		meta.Binaries = append(meta.Binaries, releaseBinary{OS: t.OS, Arch: t.Arch, URL: fileURL(f.Name), FileSHA256: f.SHA256})
	}
	s.Meta = &serverMeta{PublisherProvided: meta}
	return &s, nil
}
