package prreconciler_test

// Offline checks of the container build: the Dockerfile is parsed with BuildKit's own parser
// (no Docker engine is needed), the Makefile's build recipe is inspected, and `make build`
// is run to check the binary the image ships is static.

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// buildCommand is the Makefile's build target; the Dockerfile runs exactly it.
const buildCommand = "make build"

func parseDockerfile(t *testing.T, src []byte) []instructions.Stage {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return stages
}

// checkDockerfile returns every problem found; none for a Dockerfile that builds with
// `make build` and ships only the static worker, as a non-root user, on distroless.
func checkDockerfile(stages []instructions.Stage) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(stages) < 2 {
		bad("want a multi-stage build, have %d stage(s)", len(stages))
		return problems
	}
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.BaseName, "gcr.io/distroless/static") || !strings.HasSuffix(final.BaseName, ":nonroot") {
		bad("final stage FROM %q, want gcr.io/distroless/static…:nonroot", final.BaseName)
	}

	// The build stage: FROM golang:1.26…, go.mod/go.sum copied before the sources, `make build`
	// with the module and build caches mounted.
	byName := map[string]instructions.Stage{}
	for i, s := range stages {
		byName[s.Name] = s
		byName[fmt.Sprint(i)] = s
	}
	var copies []*instructions.CopyCommand
	user, entrypoint := "", []string(nil)
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			copies = append(copies, c)
		case *instructions.AddCommand:
			bad("final stage: ADD %v; copy only the binary from the build stage", c.SourcePaths)
		case *instructions.RunCommand:
			bad("final stage: RUN %v; distroless has no shell", c.CmdLine)
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				bad("final stage: ENTRYPOINT must be in exec form (distroless has no shell)")
			}
			entrypoint = c.CmdLine
		}
	}
	if len(copies) != 1 || len(copies[0].SourcePaths) != 1 || copies[0].From == "" {
		bad("final stage: want exactly one COPY --from=<build stage> of the binary, have %d COPY", len(copies))
	}
	var build instructions.Stage
	if len(copies) == 1 {
		cp := copies[0]
		b, ok := byName[cp.From]
		if !ok {
			bad("final stage: COPY --from=%q is not a stage of this Dockerfile", cp.From)
		}
		build = b
		if len(cp.SourcePaths) == 1 && !strings.HasSuffix(cp.SourcePaths[0], "bin/worker") {
			bad("final stage: COPY %v, want the build's bin/worker", cp.SourcePaths)
		}
		if len(entrypoint) != 1 || !(entrypoint[0] == cp.DestPath || strings.TrimSuffix(cp.DestPath, "/")+"/worker" == entrypoint[0]) || !strings.HasSuffix(entrypoint[0], "/worker") {
			bad("final stage: ENTRYPOINT %v does not run the copied worker (%s)", entrypoint, cp.DestPath)
		}
	}
	u, _, _ := strings.Cut(user, ":")
	if u == "" || u == "root" || u == "0" {
		bad("final stage: USER %q; run as nonroot (65532)", user)
	}

	if build.BaseName == "" {
		return problems
	}
	if !strings.HasPrefix(build.BaseName, "golang:1.26") {
		bad("build stage FROM %q, want a pinned golang:1.26… image", build.BaseName)
	}
	var runs []*instructions.RunCommand
	modCopied, srcCopied := false, false
	for _, c := range build.Commands {
		switch c := c.(type) {
		case *instructions.RunCommand:
			runs = append(runs, c)
		case *instructions.CopyCommand:
			if slices.Contains(c.SourcePaths, ".") {
				srcCopied = true
			} else if slices.Contains(c.SourcePaths, "go.mod") && slices.Contains(c.SourcePaths, "go.sum") {
				if srcCopied {
					bad("build stage: go.mod and go.sum are copied after the sources (no layer caching)")
				}
				modCopied = true
			}
		}
	}
	if !modCopied {
		bad("build stage: go.mod and go.sum are not copied on their own before the sources")
	}
	if len(runs) == 0 {
		bad("build stage: no RUN")
		return problems
	}
	last := runs[len(runs)-1]
	if got := strings.Join(last.CmdLine, " "); got != buildCommand {
		bad("build stage: last RUN is %q, want %q (the Makefile's build target)", got, buildCommand)
	}
	// Mount options are evaluated on expansion (no build args are used here).
	if err := last.Expand(func(w string) (string, error) { return w, nil }); err != nil {
		bad("build stage: RUN flags: %v", err)
	}
	targets := map[string]bool{}
	for _, m := range instructions.GetMounts(last) {
		if m.Type == instructions.MountTypeCache {
			targets[m.Target] = true
		}
	}
	for _, want := range []string{"/go/pkg/mod", "/root/.cache/go-build"} {
		if !targets[want] {
			bad("build stage: `%s` does not mount a cache at %s", buildCommand, want)
		}
	}
	return problems
}

func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkDockerfile(parseDockerfile(t, src)) {
		t.Error(p)
	}
}

func TestDockerfileCheckCatchesMistakes(t *testing.T) {
	orig, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, old, new, problem string }{
		{"root user", "USER nonroot:nonroot", "USER root", `USER "root"`},
		{"no user", "USER nonroot:nonroot\n", "", `USER ""`},
		{"other base", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM debian:12", "final stage FROM"},
		{"another build command", "--mount=type=cache,target=/root/.cache/go-build make build", "--mount=type=cache,target=/root/.cache/go-build go build -o bin/worker ./cmd/worker", "want \"make build\""},
		{"no build cache", " --mount=type=cache,target=/root/.cache/go-build make build", " make build", "cache at /root/.cache/go-build"},
		{"shell entrypoint", `ENTRYPOINT ["/worker"]`, "ENTRYPOINT /worker", "exec form"},
		{"wrong entrypoint", `ENTRYPOINT ["/worker"]`, `ENTRYPOINT ["/bin/worker"]`, "does not run the copied worker"},
		{"single stage", "COPY --from=build /src/bin/worker /worker\n", "", "exactly one COPY"},
		{"sources before go.mod", "COPY go.mod go.sum ./\n", "COPY . .\nCOPY go.mod go.sum ./\n", "copied after the sources"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := string(orig)
			if strings.Count(s, tc.old) != 1 {
				t.Fatalf("the mutation no longer applies: %q occurs %d times", tc.old, strings.Count(s, tc.old))
			}
			problems := checkDockerfile(parseDockerfile(t, []byte(strings.Replace(s, tc.old, tc.new, 1))))
			for _, p := range problems {
				if strings.Contains(p, tc.problem) {
					return
				}
			}
			t.Errorf("mutation not caught; want a problem containing %q, got %q", tc.problem, problems)
		})
	}
}

// buildRecipe returns the recipe lines of the Makefile's build target.
func buildRecipe(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "build:"):
			in = true
		case in && strings.HasPrefix(l, "\t"):
			lines = append(lines, strings.TrimSpace(l))
		case in && strings.TrimSpace(l) == "":
		case in:
			in = false
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Fatal("Makefile has no build target")
	}
	return lines
}

func TestMakeBuildRecipe(t *testing.T) {
	recipe := strings.Join(buildRecipe(t), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-o bin/worker", "./cmd/worker"} {
		if !strings.Contains(recipe, want) {
			t.Errorf("the Makefile's build recipe lacks %q:\n%s", want, recipe)
		}
	}
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for l := range strings.SplitSeq(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimSuffix(strings.TrimPrefix(l, "/"), "/"))
		}
	}
	for _, want := range []string{".git", "bin", ".tools", "**/*.tfstate", "**/.terraform"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	for _, keep := range []string{"go.mod", "go.sum", "Makefile", "*.go", "**/*.go", "*", "cmd"} {
		if slices.Contains(patterns, keep) {
			t.Errorf(".dockerignore excludes %s, which `make build` needs", keep)
		}
	}
}

// staticELF reports why an ELF file is not statically linked, or nil.
func staticELF(name string) error {
	f, err := elf.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("has a program interpreter (PT_INTERP): dynamically linked")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return err
	}
	if len(libs) > 0 {
		return fmt.Errorf("needs shared libraries (DT_NEEDED) %v", libs)
	}
	return nil
}

func TestStaticELFCheck(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ELF check on linux only")
	}
	// A program built as the Makefile builds must pass...
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module static\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", "static", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := staticELF(filepath.Join(dir, "static")); err != nil {
		t.Errorf("a CGO_ENABLED=0 build is reported as not static: %v", err)
	}
	// ...and a dynamically linked system binary must not.
	for _, name := range []string{"make", "ls", "env"} {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if p, err = filepath.EvalSymlinks(p); err != nil {
			continue
		}
		if err := staticELF(p); err != nil && (strings.Contains(err.Error(), "PT_INTERP") || strings.Contains(err.Error(), "DT_NEEDED")) {
			return
		}
	}
	t.Log("no dynamically linked system binary found to check the negative case against")
}

func TestMakeBuildIsStatic(t *testing.T) {
	if _, err := os.Stat(filepath.Join("cmd", "worker")); errors.Is(err, os.ErrNotExist) {
		t.Skip("./cmd/worker does not exist yet: nothing to build")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux; checking the ELF binary on linux only")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	if testing.Short() {
		t.Skip("builds the worker; skipped with -short")
	}
	cmd := exec.Command("make", "build")
	// The Makefile's own command and output path, as in the Dockerfile.
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	if err := staticELF(filepath.Join("bin", "worker")); err != nil {
		t.Errorf("bin/worker is not static, it would not run on distroless/static: %v", err)
	}
}
