// Command release builds a plannr-mcp release: static binaries for Linux,
// macOS and Windows on amd64 and arm64, the Claude Desktop bundle (.mcpb),
// the MCP Registry entry (server.json) and SHA256SUMS. A release is
// reproducible: the same commit built with the same Go toolchain gives the
// same bytes, which -check-reproducible verifies.
//
// Run it from the repository:
//
//	go run ./internal/release -version v1.2.3 -out dist
//
// See README.md beside this file for what each file is and how to publish.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const usage = `Usage: go run ./internal/release -version VERSION -out DIR [flags]

Builds a plannr-mcp release into DIR, which must not exist or be empty:

  plannr-mcp_VERSION_OS_ARCH[.exe]  a static binary for each target
  plannr-mcp_VERSION.mcpb           the Claude Desktop bundle (macOS, Windows, Linux)
  server.json                       the MCP Registry entry, from the repository's server.json
  SHA256SUMS                        the SHA-256 of every other file (sha256sum -c SHA256SUMS)

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit code: 0 done, 1 failed,
// 2 a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	versionFlag := fs.String("version", "", "release version, a semantic version such as v1.2.3 (required); binaries report it as v1.2.3, the bundle and server.json as 1.2.3")
	out := fs.String("out", "", "directory to write the release to (required)")
	targetsFlag := fs.String("targets", "all", "comma-separated os/arch targets to build, such as linux/amd64,darwin/arm64; all is "+targetList(allTargets()))
	check := fs.Bool("check-reproducible", false, "build the release twice and fail unless every file is the same byte for byte")
	downloadURL := fs.String("download-url", "", "URL the release's files will be downloaded from, for server.json (default: the GitHub release of the tag, in the repository server.json names)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		return 2
	}
	usageError := func(msg string) int {
		fmt.Fprintf(stderr, "release: %s\n\n", msg)
		fs.Usage()
		return 2
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected arguments: %v", fs.Args()))
	}
	if *versionFlag == "" || *out == "" {
		return usageError("-version and -out are required")
	}
	v, err := parseVersion(*versionFlag)
	if err != nil {
		return usageError(err.Error())
	}
	targets, err := parseTargets(*targetsFlag)
	if err != nil {
		return usageError(err.Error())
	}
	if err := release(ctx, v, *out, targets, *check, *downloadURL, stdout); err != nil {
		fmt.Fprintln(stderr, "release:", err)
		return 1
	}
	return 0
}

// release builds the release the command line asked for and says what it
// made.
func release(ctx context.Context, v version, out string, targets []target, check bool, downloadURL string, log io.Writer) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	moduleDir, err := moduleRoot(ctx, wd)
	if err != nil {
		return err
	}
	goVer, err := goVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "release %s with %s for %s\n", v.tag, goVer, targetList(targets))
	opts := options{Version: v, Out: out, Targets: targets, ModuleDir: moduleDir, DownloadURL: downloadURL, Log: log}
	start := time.Now()
	build := buildRelease
	if check {
		build = checkReproducible
	}
	res, err := build(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "done in %.1fs: %s\n", time.Since(start).Seconds(), out)
	fmt.Fprint(log, string(formatChecksums(res.Files)))
	return nil
}
