package terraform_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTerraformTestOffline runs `terraform validate` on the module and its example and
// `terraform test` (tests/*.tftest.hcl, on a mocked provider) with the real Google provider,
// installed from the filesystem mirror PRRECONCILER_TF_PROVIDER_MIRROR names (a directory with
// the layout HOSTNAME/hashicorp/google/VERSION/OS_ARCH/). The provider cannot be downloaded
// here, so the test is skipped without one; build it from hashicorp/terraform-provider-google
// at the version the schema file names to run it.
func TestTerraformTestOffline(t *testing.T) {
	mirror := os.Getenv("PRRECONCILER_TF_PROVIDER_MIRROR")
	if mirror == "" {
		t.Skip("PRRECONCILER_TF_PROVIDER_MIRROR is not set: no Google provider to run terraform validate and terraform test with")
	}
	dir := filepath.Join(t.TempDir(), "terraform")
	if err := os.CopyFS(dir, os.DirFS(".")); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, []byte(`provider_installation {
  filesystem_mirror {
    path    = "`+mirror+`"
    include = ["hashicorp/google"]
  }
  direct {
    exclude = ["hashicorp/google"]
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	terraform := func(in string, args ...string) string {
		t.Helper()
		cmd := exec.Command("terraform", args...)
		cmd.Dir = in
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
			"TF_DATA_DIR="+filepath.Join(in, ".terraform"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), in, err, out)
		}
		return string(out)
	}
	for _, in := range []string{dir, filepath.Join(dir, exampleDir)} {
		terraform(in, "init", "-backend=false", "-input=false", "-no-color")
		terraform(in, "validate", "-no-color")
	}
	out := terraform(dir, "test", "-no-color")
	if !strings.Contains(out, "Success!") || strings.Contains(out, " 0 passed") {
		t.Errorf("terraform test:\n%s", out)
	}
	t.Logf("terraform test:\n%s", out)
}
