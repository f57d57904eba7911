package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// outsideModule writes a module outside this repository that requires it through a replace
// to this checkout, holding examples/prsize's sources (its readme test aside, which reads this
// repository's docs), and returns its directory.
func outsideModule(t *testing.T) string {
	t.Helper()
	root, err := os.Getwd() // TestMain moved to the repository's root
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/mine\n\ngo 1.26.8\n\n" +
		"require github.com/prreconciler/prreconciler v0.0.0-00010101000000-000000000000\n\n" +
		"replace github.com/prreconciler/prreconciler => " + root + "\n"
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", []byte(gomod))
	// The sums the example's module already verified: nothing to fetch or look up.
	sum, err := os.ReadFile("examples/prsize/go.sum")
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", sum)
	for _, name := range []string{"main.go", "main_test.go"} {
		b, err := os.ReadFile(filepath.Join("examples/prsize", name))
		if err != nil {
			t.Fatal(err)
		}
		write(name, b)
	}
	return dir
}

// goCmd runs the go command in dir offline: the module cache already holds every dependency,
// and -mod=mod lets go.mod gain the requirements the sources need.
func goCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestOutsideModuleBuild: a reconciler builds, vets and passes its test on the fake from a
// module of its own, with only this module's exported API, as a user's repository would; and
// the same module importing an internal package does not build, so the check would catch a
// reconciler (or a guide) that needs one.
func TestOutsideModuleBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	dir := outsideModule(t)
	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}, {"test", "-count=1", "./..."}} {
		if out, err := goCmd(t, dir, args...); err != nil {
			t.Fatalf("go %s in a module of its own: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	t.Run("an internal package is refused", func(t *testing.T) {
		bad := "package main\n\nimport _ \"github.com/prreconciler/prreconciler/internal/logbuf\"\n"
		if err := os.WriteFile(filepath.Join(dir, "internal_use.go"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(filepath.Join(dir, "internal_use.go")) })
		out, err := goCmd(t, dir, "build", "./...")
		if err == nil || !strings.Contains(out, "use of internal package") {
			t.Fatalf("go build with an internal import: %v\n%s\nwant it refused as the use of an internal package", err, out)
		}
	})
	t.Run("an unexported name is refused", func(t *testing.T) {
		bad := "package main\n\nimport \"github.com/prreconciler/prreconciler/statusmanager\"\n\nvar _ = statusmanager.logsExplorer\n"
		if err := os.WriteFile(filepath.Join(dir, "unexported_use.go"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(filepath.Join(dir, "unexported_use.go")) })
		if out, err := goCmd(t, dir, "build", "./..."); err == nil {
			t.Fatalf("go build with an unexported name succeeded:\n%s", out)
		}
	})
}

// TestReadmeReconcilerBuilds: the README's "reconciler in 30 lines" builds and vets in a module of
// its own, and is at most 30 lines.
func TestReadmeReconcilerBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## A reconciler in 30 lines\n")
	_, code, ok2 := strings.Cut(section, "```go\n")
	code, _, ok3 := strings.Cut(code, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal(`README has no Go block under "A reconciler in 30 lines"`)
	}
	if n := strings.Count(code, "\n"); n > 35 {
		// The package clause and imports aside, the reconciler stays about 30 lines.
		t.Errorf("the README's reconciler is %d lines", n)
	}
	dir := outsideModule(t)
	for _, name := range []string{"main.go", "main_test.go"} {
		os.Remove(filepath.Join(dir, name))
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
		if out, err := goCmd(t, dir, args...); err != nil {
			t.Fatalf("go %s of the README's reconciler: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
