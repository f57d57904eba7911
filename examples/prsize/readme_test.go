package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The SDK guide (docs/your-own-reconciler.md) shows this example as it is: its Go blocks are
// this command's main.go, whole, and its test function, so the guide cannot drift from code that
// builds and passes; and it shows the image and Terraform steps of a module of its own.
func TestGuideShowsThisExample(t *testing.T) {
	guide, err := os.ReadFile("../../docs/your-own-reconciler.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(guide), -1)
	// The first two are this example's files; later sections show fragments of their own.
	if len(blocks) < 2 {
		t.Fatalf("the guide has %d Go blocks, want main.go and the test first", len(blocks))
	}
	main, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	test, err := os.ReadFile("main_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if blocks[0][1] != string(main) {
		t.Errorf("the guide's first block is not main.go as it is:\n%s", blocks[0][1])
	}
	if !strings.HasPrefix(blocks[1][1], "func TestPRSize(") || !strings.HasSuffix(string(test), blocks[1][1]) {
		t.Errorf("the guide's second block is not main_test.go's TestPRSize as it is:\n%s", blocks[1][1])
	}
	for _, want := range []string{
		"go get github.com/prreconciler/prreconciler@v", // a tagged version
		"examples/prsize/Dockerfile",                    // the image of a module of its own
		"//terraform?ref=v",                             // the Terraform module, pinned
	} {
		if !strings.Contains(string(guide), want) {
			t.Errorf("the guide lacks %q", want)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "(docs/your-own-reconciler.md)") {
		t.Error("README does not point at the guide")
	}
}
