package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// checkReproducible builds the release into opts.Out and a second time
// into a directory of its own, then compares every file of the two byte
// for byte. The second build compiles from the Go build cache the first
// one filled (the compiler's output depends only on its inputs, which the
// cache keys on) but links every binary and packs the bundle again.
func checkReproducible(ctx context.Context, opts options) (*releaseResult, error) {
	res, err := buildRelease(ctx, opts)
	if err != nil {
		return nil, err
	}
	again, err := os.MkdirTemp("", "plannr-mcp-release-again-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(again)
	second := opts
	second.Out = again
	fmt.Fprintln(opts.Log, "building again to compare")
	if _, err := buildRelease(ctx, second); err != nil {
		return nil, fmt.Errorf("second build: %w", err)
	}
	diffs, err := compareDirs(opts.Out, again)
	if err != nil {
		return nil, err
	}
	if len(diffs) > 0 {
		return nil, fmt.Errorf("the release is not reproducible:\n  %s", strings.Join(diffs, "\n  "))
	}
	names, err := fileNames(opts.Out)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Log, "reproducible: both builds gave the same %d files, byte for byte\n", len(names))
	return res, nil
}

// compareDirs compares every file of two release directories byte for
// byte, and returns one line for each difference: a file in one only, or
// of other contents (with the first offset that differs).
func compareDirs(a, b string) ([]string, error) {
	namesA, err := fileNames(a)
	if err != nil {
		return nil, err
	}
	namesB, err := fileNames(b)
	if err != nil {
		return nil, err
	}
	var diffs []string
	for _, name := range namesA {
		if !slices.Contains(namesB, name) {
			diffs = append(diffs, name+": only in the first build")
		}
	}
	for _, name := range namesB {
		if !slices.Contains(namesA, name) {
			diffs = append(diffs, name+": only in the second build")
		}
	}
	for _, name := range namesA {
		if !slices.Contains(namesB, name) {
			continue
		}
		da, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			return nil, err
		}
		db, err := os.ReadFile(filepath.Join(b, name))
		if err != nil {
			return nil, err
		}
		if d := describeDifference(da, db); d != "" {
			diffs = append(diffs, name+": "+d)
		}
	}
	return diffs, nil
}

// describeDifference says how b differs from a, or returns "" if they are
// equal.
func describeDifference(a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return fmt.Sprintf("differs from byte %d (sizes %d and %d)", i, len(a), len(b))
}

// fileNames lists the regular files of dir, sorted; a release directory
// has no subdirectories.
func fileNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("%s: %s is not a regular file", dir, e.Name())
		}
		names = append(names, e.Name())
	}
	return names, nil
}
