package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// checksumsName is the file of the release that lists every other file's
// SHA-256, in the format of sha256sum and shasum -a 256, which check it
// with -c.
const checksumsName = "SHA256SUMS"

// sha256File returns the hex SHA-256 of the file at path.
func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// formatChecksums writes one "<sha256>  <name>" line a file, sorted by
// name. The two spaces mean binary mode to sha256sum; the files are read
// as bytes either way.
func formatChecksums(files []releaseFile) []byte {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b releaseFile) int { return strings.Compare(a.Name, b.Name) })
	var b bytes.Buffer
	for _, f := range files {
		fmt.Fprintf(&b, "%s  %s\n", f.SHA256, f.Name)
	}
	return b.Bytes()
}

// parseChecksums reads a SHA256SUMS file.
func parseChecksums(r io.Reader) ([]releaseFile, error) {
	var files []releaseFile
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != sha256.Size*2 || name == "" || filepath.Base(name) != name {
			return nil, fmt.Errorf("%s line %d: want <sha256>  <file name>", checksumsName, line)
		}
		if _, err := hex.DecodeString(sum); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", checksumsName, line, err)
		}
		files = append(files, releaseFile{Name: name, SHA256: sum})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return files, nil
}

// sha256Hex returns the hex SHA-256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
