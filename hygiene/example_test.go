package hygiene_test

import (
	"fmt"

	"github.com/prreconciler/prreconciler/hygiene"
)

func ExampleCheck() {
	patch := "@@ -1,2 +1,7 @@\n" +
		" package main\n" +
		"+<<<<<<< HEAD\n" +
		"+const x = 1\n" +
		"+=======\n" +
		"+const x = 2\n" +
		"+>>>>>>> feature\n" +
		" \n" +
		"@@ -20,2 +24,3 @@ func main() {\n" +
		" \tfmt.Println(x)\n" +
		"+\tconst key = `-----BEGIN RSA PRIVATE KEY-----`\n" +
		" }\n"
	for _, f := range hygiene.Check("main.go", patch, hygiene.Options{}) {
		fmt.Printf("%s:%d %s %s: %s\n", f.Path, f.Line, f.Level, f.Kind, f.Message)
	}
	// Output:
	// main.go:2 failure conflict-marker: Merge conflict marker "<<<<<<<": resolve the conflict before merging.
	// main.go:4 failure conflict-marker: Merge conflict marker "=======": resolve the conflict before merging.
	// main.go:6 failure conflict-marker: Merge conflict marker ">>>>>>>": resolve the conflict before merging.
	// main.go:25 failure private-key: Private key (RSA) committed: remove it, and revoke it as it stays in the branch history.
}
