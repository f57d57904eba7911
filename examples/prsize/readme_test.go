package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// README "Write your own reconciler" shows this example as it is: its Go blocks are this
// command's main.go, whole, and its test function, so the guide cannot drift from code that
// builds and passes.
func TestREADMEShowsThisExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Write your own reconciler\n")
	if !ok {
		t.Fatal("README has no section \"Write your own reconciler\"")
	}
	section, _, _ = strings.Cut(section, "\n### Without the worker")
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) != 2 {
		t.Fatalf("the section has %d Go blocks, want 2 (main.go and the test)", len(blocks))
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
		t.Errorf("README's first block is not main.go as it is:\n%s", blocks[0][1])
	}
	if !strings.HasPrefix(blocks[1][1], "func TestPRSize(") || !strings.HasSuffix(string(test), blocks[1][1]) {
		t.Errorf("README's second block is not main_test.go's TestPRSize as it is:\n%s", blocks[1][1])
	}
	if !strings.Contains(section, "--build-arg MAIN=./examples/prsize") {
		t.Error("the section does not say how to build this example's image")
	}
}
