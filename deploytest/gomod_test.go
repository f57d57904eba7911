package deploytest_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLibraryRequiresNoTestOnlyModule keeps the root go.mod to what the library and its binaries
// import: every module it requires directly is reached from a non-test package, so that a user
// of the module gets no test dependency in their module graph.
func TestLibraryRequiresNoTestOnlyModule(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{if not .Indirect}}{{if not .Main}}{{.Path}}{{end}}{{end}}", "all").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	mods := strings.Fields(string(out))
	if len(mods) == 0 {
		t.Fatal("go list -m found no direct requirement")
	}
	why, err := exec.Command("go", append([]string{"mod", "why", "-m"}, mods...)...).Output()
	if err != nil {
		t.Fatalf("go mod why: %v", err)
	}
	for _, bad := range testOnly(string(why)) {
		t.Errorf("go.mod requires %s, which only tests import: move those tests to a module of their own (deploytest/, terraform/)", bad)
	}
}

// testOnly returns the modules of `go mod why -m` output whose shortest import path starts at a
// test package (NAME.test) or that the main module does not need at all.
func testOnly(why string) []string {
	var bad []string
	for _, stanza := range strings.Split(strings.TrimSpace(why), "\n\n") {
		lines := strings.Split(stanza, "\n")
		mod := strings.TrimPrefix(lines[0], "# ")
		if len(lines) < 2 || strings.HasPrefix(lines[1], "(") || strings.HasSuffix(lines[1], ".test") {
			bad = append(bad, mod)
			continue
		}
		for _, l := range lines[1:] {
			if strings.HasSuffix(l, ".test") {
				bad = append(bad, mod)
				break
			}
		}
	}
	return bad
}

func TestTestOnlyReadsGoModWhy(t *testing.T) {
	why := `# example.com/lib
github.com/prreconciler/prreconciler/worker
example.com/lib

# example.com/hcl
github.com/prreconciler/prreconciler/terraform
github.com/prreconciler/prreconciler/terraform.test
example.com/hcl

# example.com/unused
(main module does not need module example.com/unused)
`
	got := strings.Join(testOnly(why), " ")
	if got != "example.com/hcl example.com/unused" {
		t.Errorf("testOnly = %q, want the test-only and the unneeded module", got)
	}
}
