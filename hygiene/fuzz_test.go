package hygiene

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// headerRE recognizes hunk headers independently of the parser under test.
var headerRE = regexp.MustCompile(`^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@`)

// hunkRanges returns the new-file line ranges [first, last] that the patch's hunk headers declare.
func hunkRanges(patch string) [][2]int {
	var out [][2]int
	for _, l := range strings.Split(patch, "\n") {
		m := headerRE.FindStringSubmatch(strings.TrimSuffix(l, "\r"))
		if m == nil {
			continue
		}
		start, err1 := strconv.Atoi(m[1])
		count, err2 := 1, error(nil)
		if m[2] != "" {
			count, err2 = strconv.Atoi(m[2])
		}
		if err1 == nil && err2 == nil {
			out = append(out, [2]int{start, start + count - 1})
		}
	}
	return out
}

func FuzzCheck(f *testing.F) {
	seeds := []struct{ path, patch string }{
		{"main.go", ""},
		{"main.go", "@@ -1,2 +1,7 @@\n package main\n+<<<<<<< HEAD\n+a\n+=======\n+b\n+>>>>>>> x\n \n"},
		{"README.md", "@@ -0,0 +1,3 @@\n+Title\n+=======\n+<<<<<<< a\n"},
		{"README.md", "@@ -1 +1,3 @@\n-x\n+<<<<<<< a\n+=======\n+>>>>>>> b\n"},
		{"a.c", "@@ -1 +1 @@\r\n-a\r\n+|||||||\r\n\\ No newline at end of file\r\n"},
		{"k.pem", "@@ -0,0 +1,2 @@\n+-----BEGIN OPENSSH PRIVATE KEY-----\n+b3BlbnNzaC1rZXk=\n"},
		{"k.asc", "@@ -5,0 +6 @@ x\n+x -----BEGIN PGP PRIVATE KEY BLOCK-----"},
		{"x.go", "@@ -1,3 +1,1 @@\n a\n-b\n-c\n@@ -9999999999 +9999999999,2 @@\n+=======\n"},
		{"x.go", "@@ -1,1000000000 +1,1000000000 @@\n+=======\n"},
		{"x.go", "@@ -0,0 +0,3 @@\n+=======\n"},
		{"x.go", "@@ -1 +1 @@\n+=======\n+=======\n@@@ -1 +1 @@\n+======="},
		{"big.go", "@@ -1,0 +1,5 @@\n+a\n+b\n+c\n+d\n+e\n"},
	}
	for _, s := range seeds {
		f.Add(s.path, s.patch)
	}
	f.Fuzz(func(t *testing.T, path, patch string) {
		opts := Options{MaxFileLines: 3, MaxFileBytes: 64, MaxFindings: 20}
		fs := Check(path, patch, opts)
		if len(fs) > opts.MaxFindings {
			t.Fatalf("%d findings, more than MaxFindings", len(fs))
		}
		ranges := hunkRanges(patch)
		for _, x := range fs {
			if x.Path != path || x.Message == "" || (x.Level != LevelFailure && x.Level != LevelWarning) {
				t.Fatalf("bad finding %+v", x)
			}
			if strings.Contains(x.Message, "-----") {
				t.Fatalf("message %q echoes a key header", x.Message)
			}
			if x.Line == 0 {
				if x.Kind != KindLargeFile && x.Kind != KindLargeFileBytes {
					t.Fatalf("line 0 for %+v", x)
				}
				continue
			}
			in := false
			for _, r := range ranges {
				in = in || (x.Line >= r[0] && x.Line <= r[1])
			}
			if !in {
				t.Fatalf("finding %+v outside the hunks %v", x, ranges)
			}
		}
		d := Details{Files: 1, Findings: fs}
		md := d.Markdown()
		if utf8.ValidString(path) && !utf8.ValidString(md) {
			t.Fatalf("Markdown is not valid UTF-8")
		}
		as := d.Annotations()
		if len(as) > len(fs) {
			t.Fatalf("%d annotations for %d findings", len(as), len(fs))
		}
		for _, a := range as {
			if a.GetStartLine() < 1 || a.GetStartLine() != a.GetEndLine() || utf8.RuneCountInString(a.GetTitle()) > 255 ||
				len(a.GetMessage()) > 64_000 {
				t.Fatalf("bad annotation %v", a)
			}
		}
		_ = d.Title()
		_ = d.Conclusion()
	})
}
