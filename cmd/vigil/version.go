package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// cmdVersion prints vigil's version (see version).
func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "", "Print vigil's version: the module version (a release tag such as v1.2.0) or the source revision, and the Go version.", stdout, stderr)
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, version(info))
	return exitOK
}

// version describes a build: "vigil v1.2.0 (go1.26.8)" for a release
// installed with `go install ...@v1.2.0`, "vigil (devel) rev 1a2b3c4d5e6f
// (modified) (go1.26.8)" for a build from a checkout, with the revision
// when the build recorded it.
func version(info *debug.BuildInfo) string {
	v, goVersion := "(devel)", runtime.Version()
	var rev, modified string
	if info != nil {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
	}
	out := "vigil " + v
	if rev != "" {
		out += " rev " + rev[:min(len(rev), 12)] + modified
	}
	return out + " (" + goVersion + ")"
}
