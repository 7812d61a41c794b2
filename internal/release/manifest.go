package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// manifestVersion is the MCPB manifest specification the bundle follows:
// 0.3, the version the specification (MANIFEST.md) names as current. It
// has everything the bundle uses (binary servers, platform_overrides,
// user_config with sensitive strings); 0.4 only adds the uv server type.
const manifestVersion = "0.3"

// manifestTemplate holds the manifest's fixed part: the texts, the author,
// the user configuration and how it maps to the server's environment. The
// release fills in the version, the tools, the platforms and the paths of
// the binaries.
//
//go:embed manifest.template.json
var manifestTemplate []byte

// A manifest is an MCPB manifest.json, version 0.3, with the fields this
// bundle uses.
type manifest struct {
	ManifestVersion  string         `json:"manifest_version"`
	Name             string         `json:"name"`
	DisplayName      string         `json:"display_name,omitempty"`
	Version          string         `json:"version"`
	Description      string         `json:"description"`
	LongDescription  string         `json:"long_description,omitempty"`
	Author           manifestAuthor `json:"author"`
	Repository       *manifestRepo  `json:"repository,omitempty"`
	Homepage         string         `json:"homepage,omitempty"`
	Documentation    string         `json:"documentation,omitempty"`
	Support          string         `json:"support,omitempty"`
	Icon             string         `json:"icon,omitempty"`
	Server           manifestServer `json:"server"`
	Tools            []manifestTool `json:"tools,omitempty"`
	ToolsGenerated   bool           `json:"tools_generated,omitempty"`
	PromptsGenerated bool           `json:"prompts_generated,omitempty"`
	Keywords         []string       `json:"keywords,omitempty"`
	License          string         `json:"license,omitempty"`
	Compatibility    *compatibility `json:"compatibility,omitempty"`
	UserConfig       userConfig     `json:"user_config,omitempty"`
}

type manifestAuthor struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

type manifestRepo struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type manifestServer struct {
	Type       string    `json:"type"`
	EntryPoint string    `json:"entry_point"`
	MCPConfig  mcpConfig `json:"mcp_config"`
}

// mcpConfig is how a host starts the server. The host replaces
// ${__dirname} with the directory it unpacked the bundle into and
// ${user_config.KEY} with what the person entered (or the option's
// default), then applies the entry of platform_overrides for its platform.
type mcpConfig struct {
	Command           string                      `json:"command"`
	Args              []string                    `json:"args"`
	Env               map[string]string           `json:"env,omitempty"`
	PlatformOverrides map[string]platformOverride `json:"platform_overrides,omitempty"`
}

// platformOverride replaces, for one platform, the fields it sets.
type platformOverride struct {
	Command string            `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
}

type manifestTool struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type compatibility struct {
	ClaudeDesktop string   `json:"claude_desktop,omitempty"`
	Platforms     []string `json:"platforms,omitempty"`
}

// A userConfigOption is one setting the host asks the person for.
type userConfigOption struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Required is written even when false, to say so plainly.
	Required bool `json:"required"`
	// Default is substituted when the person leaves the option unset. An
	// option with no default that is left unset is not substituted at
	// all: the server would see the text ${user_config.KEY} itself.
	Default   any  `json:"default,omitempty"`
	Sensitive bool `json:"sensitive,omitempty"`
}

// userConfig is the manifest's user_config, in order: hosts show the
// options in the order of the JSON object, so it is not a map.
type userConfig []userConfigEntry

type userConfigEntry struct {
	Key    string
	Option userConfigOption
}

// option returns the option named key.
func (u userConfig) option(key string) (userConfigOption, bool) {
	for _, e := range u {
		if e.Key == key {
			return e.Option, true
		}
	}
	return userConfigOption{}, false
}

// MarshalJSON writes the options as one object, in order.
func (u userConfig) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range u {
		if i > 0 {
			b.WriteByte(',')
		}
		key, err := marshalJSON(e.Key)
		if err != nil {
			return nil, err
		}
		opt, err := marshalJSON(e.Option)
		if err != nil {
			return nil, err
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(opt)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads an object of options, keeping their order and
// refusing unknown fields.
func (u *userConfig) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("user_config: want an object")
	}
	var entries userConfig
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("user_config: %w", err)
		}
		key, _ := tok.(string)
		var opt userConfigOption
		if err := dec.Decode(&opt); err != nil {
			return fmt.Errorf("user_config.%s: %w", key, err)
		}
		if _, dup := entries.option(key); dup {
			return fmt.Errorf("user_config: %s twice", key)
		}
		entries = append(entries, userConfigEntry{Key: key, Option: opt})
	}
	*u = entries
	return nil
}

// marshalJSON encodes v without escaping <, > and &, which JSON does not
// need and which would make the manifest harder to read.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// encodeIndented encodes v as indented JSON, ending in a newline.
func encodeIndented(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

// loadManifestTemplate reads the manifest's fixed part.
func loadManifestTemplate() (*manifest, error) {
	var m manifest
	if err := decodeStrict(bytes.NewReader(manifestTemplate), &m); err != nil {
		return nil, fmt.Errorf("manifest.template.json: %w", err)
	}
	if m.ManifestVersion != manifestVersion {
		return nil, fmt.Errorf("manifest.template.json: manifest_version %q, want %q", m.ManifestVersion, manifestVersion)
	}
	return &m, nil
}

// A serverTool is a tool as plannr-mcp tools prints it.
type serverTool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// manifestTools turns the output of plannr-mcp tools into the manifest's
// tool list: each tool's name and the first line of its description (the
// rest is guidance for the model, not for a person reading a list).
func manifestTools(toolsJSON []byte) ([]manifestTool, error) {
	var out struct {
		Tools []serverTool `json:"tools"`
	}
	if err := json.Unmarshal(toolsJSON, &out); err != nil {
		return nil, fmt.Errorf("reading plannr-mcp tools: %w", err)
	}
	if len(out.Tools) == 0 {
		return nil, errors.New("plannr-mcp tools printed no tools")
	}
	tools := make([]manifestTool, len(out.Tools))
	for i, t := range out.Tools {
		first, _, _ := strings.Cut(t.Description, "\n")
		tools[i] = manifestTool{Name: t.Name, Description: strings.TrimSpace(first)}
	}
	return tools, nil
}
