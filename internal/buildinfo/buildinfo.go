// Package buildinfo says which build of a reconciler binary is running: the module version,
// the commit and the build date, from the linker's -X flags when the build set them (make
// build does) and from the Go toolchain's build information otherwise.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Module is this module's path, whose version a reconciler built in another module reports.
const Module = "github.com/prreconciler/prreconciler"

// The linker sets these (-ldflags "-X github.com/prreconciler/prreconciler/internal/buildinfo.version=…"):
// -X can only set package-level string variables, so they cannot be anything else. Nothing
// else writes them.
var (
	version string
	commit  string
	date    string
)

// Info is one build's identity; an unknown part is "unknown".
type Info struct {
	// Version is the module version: the -X version, else this module's version in the build
	// information (a tag, a pseudo-version, or "(devel)" for a build in this checkout).
	Version string
	// Commit is the VCS revision, with "+dirty" when the tree had changes.
	Commit string
	// Date is the build's (or with no -X date, the commit's) UTC time.
	Date string
}

// Read returns the running binary's Info.
func Read() Info {
	i := Info{Version: version, Commit: commit, Date: date}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" {
			if bi.Main.Path == Module {
				i.Version = bi.Main.Version
			}
			for _, d := range bi.Deps {
				if d.Path == Module {
					i.Version = d.Version
				}
			}
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Commit == "" {
					i.Commit = s.Value
				}
			case "vcs.time":
				if i.Date == "" {
					i.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && i.Commit != "" && !strings.HasSuffix(i.Commit, "+dirty") {
			i.Commit += "+dirty"
		}
	}
	for _, p := range []*string{&i.Version, &i.Commit, &i.Date} {
		if *p == "" {
			*p = "unknown"
		}
	}
	return i
}

// String is "VERSION (commit COMMIT, built DATE)".
func (i Info) String() string {
	return i.Version + " (commit " + i.Commit + ", built " + i.Date + ")"
}

// UserAgent is the User-Agent GitHub sees: "prreconciler/VERSION".
func (i Info) UserAgent() string { return "prreconciler/" + i.Version }
