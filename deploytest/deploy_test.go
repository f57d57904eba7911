package deploytest_test

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
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/prreconciler/prreconciler/events"
)

// TestMain runs the tests from the repository's root, where the Dockerfile, the Makefile and
// the module they build are.
func TestMain(m *testing.M) {
	if err := os.Chdir(".."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

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
	return checkDockerfileBuild(stages, buildCommand)
}

// outsideBuildCommand is the build of examples/prsize/Dockerfile, a reconciler's module of its
// own: no Makefile there, the same static, trimmed build.
const outsideBuildCommand = `go build -trimpath -ldflags="-s -w" -o bin/worker .`

// checkDockerfileBuild is checkDockerfile with the build stage's last RUN being build.
func checkDockerfileBuild(stages []instructions.Stage, buildCommand string) []string {
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

// TestOutsideModuleDockerfile: the documented image recipe of a reconciler in its own module
// (docs/your-own-reconciler.md) passes the same checks as the repository's own.
func TestOutsideModuleDockerfile(t *testing.T) {
	src, err := os.ReadFile("examples/prsize/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkDockerfileBuild(parseDockerfile(t, src), outsideBuildCommand) {
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

// The image recipe builds any reconciler of the module: the Dockerfile's MAIN build argument
// reaches `make build` (build arguments are environment variables of RUN), which builds it
// instead of ./cmd/worker.
func TestMakeBuildMAIN(t *testing.T) {
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(t, src)
	declared := false
	for _, c := range stages[0].Commands {
		if a, ok := c.(*instructions.ArgCommand); ok {
			for _, kv := range a.Args {
				declared = declared || kv.Key == "MAIN"
			}
		}
	}
	if !declared {
		t.Error("the build stage declares no ARG MAIN")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	for main, want := range map[string]string{"": "./cmd/worker", "./cmd/mine": "./cmd/mine"} {
		cmd := exec.Command("make", "-n", "--no-print-directory", "build")
		cmd.Env = append(os.Environ(), "MAIN="+main)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("make -n build: %v", err)
		}
		if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, "-o bin/worker "+want) {
			t.Errorf("MAIN=%q: make build runs %q, want it to build %s", main, got, want)
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

// shellWords splits one shell command line as sh would for the simple commands the READMEs
// show: quotes, backslashes, $NAME and ${NAME} from vars, a trailing comment. Command
// substitution is not supported.
func shellWords(line string, vars map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	expand := func(rs []rune, i int) (int, error) {
		// rs[i] == '$'
		j := i + 1
		var name string
		switch {
		case j < len(rs) && rs[j] == '{':
			end := slices.Index(rs[j:], '}')
			if end < 0 {
				return 0, errors.New("unterminated ${")
			}
			name, j = string(rs[j+1:j+end]), j+end+1
		case j < len(rs) && rs[j] == '(':
			return 0, errors.New("command substitution is not supported")
		default:
			k := j
			for k < len(rs) && (rs[k] == '_' || rs[k] >= 'A' && rs[k] <= 'Z' || rs[k] >= 'a' && rs[k] <= 'z' || rs[k] >= '0' && rs[k] <= '9') {
				k++
			}
			if k == j {
				cur.WriteRune('$')
				return j, nil
			}
			name, j = string(rs[j:k]), k
		}
		v, ok := vars[name]
		if !ok {
			return 0, fmt.Errorf("$%s is not set", name)
		}
		cur.WriteString(v)
		return j, nil
	}
	rs := []rune(line)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case r == '#' && !inWord:
			i = len(rs)
		case r == '\'':
			end := slices.Index(rs[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated '")
			}
			cur.WriteString(string(rs[i+1 : i+1+end]))
			inWord, i = true, i+end+2
		case r == '"':
			inWord = true
			i++
			for {
				if i >= len(rs) {
					return nil, errors.New(`unterminated "`)
				}
				c := rs[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' && i+1 < len(rs) && strings.ContainsRune("$`\"\\", rs[i+1]) {
					cur.WriteRune(rs[i+1])
					i += 2
					continue
				}
				if c == '$' {
					j, err := expand(rs, i)
					if err != nil {
						return nil, err
					}
					i = j
					continue
				}
				cur.WriteRune(c)
				i++
			}
		case r == '\\':
			if i+1 < len(rs) {
				cur.WriteRune(rs[i+1])
			}
			inWord, i = true, i+2
		case r == '$':
			j, err := expand(rs, i)
			if err != nil {
				return nil, err
			}
			inWord, i = true, j
		default:
			cur.WriteRune(r)
			inWord = true
			i++
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// shellCommands returns the commands of a Markdown file's sh code blocks, continuation lines
// joined.
func shellCommands(md string) []string {
	var cmds []string
	in := false
	var cont strings.Builder
	for l := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(l, "```") {
			in = strings.TrimPrefix(l, "```") == "sh"
			continue
		}
		if !in {
			continue
		}
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cont.WriteString(s)
			continue
		}
		cont.WriteString(l)
		cmds = append(cmds, cont.String())
		cont.Reset()
	}
	return cmds
}

// readmeSHA stands for the SHA a README's commands take from git.
const readmeSHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

// checkPublishCommand checks a `gcloud pubsub topics publish` of a reconcile request: to a
// reconcile topic, with a message the worker decodes into one request, and that request's
// ordering key.
func checkPublishCommand(cmd string) error {
	words, err := shellWords(cmd, map[string]string{"SHA": readmeSHA})
	if err != nil {
		return err
	}
	if len(words) < 5 || strings.Join(words[:4], " ") != "gcloud pubsub topics publish" {
		return fmt.Errorf("not a gcloud pubsub topics publish: %q", words)
	}
	flags := map[string]string{}
	var args []string
	for i := 4; i < len(words); i++ {
		w := words[i]
		name, value, ok := strings.Cut(w, "=")
		if !strings.HasPrefix(w, "--") {
			args = append(args, w)
			continue
		}
		if !ok && i+1 < len(words) {
			value, i = words[i+1], i+1
		}
		flags[name] = value
	}
	if len(args) != 1 || !regexp.MustCompile(`^projects/[^/]+/topics/[^/]+-reconcile$`).MatchString(args[0]) {
		return fmt.Errorf("publishes to %v, not to a reconcile topic projects/P/topics/NAME-reconcile", args)
	}
	key, ok := flags["--ordering-key"]
	if !ok {
		return errors.New("no --ordering-key")
	}
	res, err := (&events.Decoder{}).Decode(&events.Message{ID: "readme", Data: []byte(flags["--message"])})
	if err != nil {
		return fmt.Errorf("the worker refuses the message: %w", err)
	}
	if len(res.Requests) != 1 {
		return fmt.Errorf("the message asks for %d requests, ignored: %q", len(res.Requests), res.Ignored)
	}
	if want := res.Requests[0].OrderingKey(); key != want {
		return fmt.Errorf("--ordering-key %q, the request's ordering key is %q", key, want)
	}
	return nil
}

// The docs' examples of publishing a reconcile request are what the worker accepts, with
// the ordering key the intake stage would give them.
func TestReadmePublishExamples(t *testing.T) {
	for _, file := range []string{filepath.Join("docs", "operations.md"), filepath.Join("terraform", "README.md")} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		md := string(b)
		found := 0
		for _, cmd := range shellCommands(md) {
			if !strings.Contains(cmd, "--ordering-key") {
				continue
			}
			found++
			if err := checkPublishCommand(cmd); err != nil {
				t.Errorf("%s: %v\n%s", file, err, cmd)
			}
		}
		if found == 0 {
			t.Errorf("%s: no example of publishing a reconcile request with --ordering-key", file)
		}
	}
	b, err := os.ReadFile(filepath.Join("terraform", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"EnableMessageOrdering = true", "OrderingKey: req.OrderingKey()"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("terraform/README.md: the Go publishing example lacks %q", want)
		}
	}
}

func TestCheckPublishCommandCatchesMistakes(t *testing.T) {
	good := `gcloud pubsub topics publish projects/p/topics/prreconciler-reconcile --ordering-key='octo-org/hello-world@` + readmeSHA +
		`' --message='{"owner":"Octo-Org","repo":"Hello-World","url":"https://github.com/Octo-Org/Hello-World/pull/7","sha":"` + readmeSHA + `"}'`
	if err := checkPublishCommand(good); err != nil {
		t.Fatalf("a correct command is refused: %v", err)
	}
	for _, tc := range []struct{ name, old, new, problem string }{
		{"key not lower-case", "--ordering-key='octo-org/hello-world@", "--ordering-key='Octo-Org/Hello-World@", "ordering key is"},
		{"key of the PR", "hello-world@" + readmeSHA + "'", "hello-world#7'", "ordering key is"},
		{"no key", "--ordering-key=", "--ordering=", "no --ordering-key"},
		{"relay topic", "topics/prreconciler-reconcile", "topics/github-webhooks", "not to a reconcile topic"},
		{"short sha", `"sha":"` + readmeSHA, `"sha":"` + readmeSHA[:39], "the worker refuses the message"},
		{"url of another repo", "Hello-World/pull/7", "other/pull/7", "the worker refuses the message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(good, tc.old) != 1 {
				t.Fatalf("the mutation no longer applies: %q", tc.old)
			}
			err := checkPublishCommand(strings.Replace(good, tc.old, tc.new, 1))
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("got %v, want an error containing %q", err, tc.problem)
			}
		})
	}
}

// The build names itself: the Dockerfile declares VERSION, COMMIT and BUILD_DATE, build
// arguments that reach `make build` as environment variables, and make passes them to the
// linker for `worker version`.
func TestMakeBuildVersion(t *testing.T) {
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, c := range parseDockerfile(t, src)[0].Commands {
		if a, ok := c.(*instructions.ArgCommand); ok {
			for _, kv := range a.Args {
				declared[kv.Key] = true
			}
		}
	}
	for _, name := range []string{"VERSION", "COMMIT", "BUILD_DATE"} {
		if !declared[name] {
			t.Errorf("the build stage declares no ARG %s", name)
		}
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", "-n", "--no-print-directory", "build")
	cmd.Env = append(os.Environ(), "VERSION=v9.8.7", "COMMIT=0123abc", "BUILD_DATE=2026-01-02T03:04:05Z")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	const pkg = "github.com/prreconciler/prreconciler/internal/buildinfo"
	for _, want := range []string{"-X " + pkg + ".version=v9.8.7", "-X " + pkg + ".commit=0123abc", "-X " + pkg + ".date=2026-01-02T03:04:05Z"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("make build runs %q, without %q", out, want)
		}
	}
}
