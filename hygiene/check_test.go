package hygiene

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// at is a compact expectation: a finding's line, kind and level.
type at struct {
	Line  int
	Kind  Kind
	Level string
}

func got(fs []Finding) []at {
	out := []at{}
	for _, f := range fs {
		out = append(out, at{f.Line, f.Kind, f.Level})
	}
	return out
}

func conflictAt(line int) at { return at{line, KindConflictMarker, LevelFailure} }
func keyAt(line int) at      { return at{line, KindPrivateKey, LevelFailure} }

// hunk builds a patch of one hunk adding lines at newStart (old side empty at the same place).
func hunk(newStart int, added ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "@@ -%d,0 +%d,%d @@\n", max(newStart-1, 0), newStart, len(added))
	for _, l := range added {
		b.WriteString("+" + l + "\n")
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	small := Options{MaxFileLines: 3, MaxFileBytes: 100}
	tests := []struct {
		name  string
		path  string
		patch string
		opts  Options
		want  []at
	}{
		{name: "empty patch", path: "main.go", patch: "", want: []at{}},
		{name: "clean", path: "main.go", patch: hunk(1, "package main", "", "func main() {}"), want: []at{}},
		{
			name: "full conflict in go file",
			path: "main.go",
			patch: "@@ -1,2 +1,7 @@\n package main\n+<<<<<<< HEAD\n+const x = 1\n+=======\n+const x = 2\n" +
				"+>>>>>>> feature\n \n",
			want: []at{conflictAt(2), conflictAt(4), conflictAt(6)},
		},
		{
			name:  "diff3 base marker",
			path:  "a.c",
			patch: hunk(10, "<<<<<<< ours", "a", "||||||| base", "b", "=======", "c", ">>>>>>> theirs"),
			want:  []at{conflictAt(10), conflictAt(12), conflictAt(14), conflictAt(16)},
		},
		{name: "diff3 bare marker", path: "a.c", patch: hunk(1, "|||||||"), want: []at{conflictAt(1)}},
		{name: "separator alone in go file", path: "main.go", patch: hunk(3, "x", "======="), want: []at{conflictAt(4)}},
		{name: "markers need their space", path: "main.go", patch: hunk(1, "<<<<<<<<", ">>>>>>>>", "<<<<<<<HEAD", "========", "======= ", " <<<<<<< x"), want: []at{}},
		{name: "heading underline in README.md", path: "README.md", patch: hunk(1, "Title", "=======", "", "text"), want: []at{}},
		{name: "heading underline in docs/index.rst", path: "docs/index.rst", patch: hunk(1, "Install", "======="), want: []at{}},
		{name: "heading underline in guide.ADOC", path: "guide.ADOC", patch: hunk(1, "Install", "======="), want: []at{}},
		{name: "markdown table row of pipes", path: "notes.md", patch: hunk(1, "|||||||"), want: []at{}},
		{
			name:  "conflict in README.md",
			path:  "README.md",
			patch: hunk(5, "<<<<<<< HEAD", "Title", "=======", "Other", "=======", ">>>>>>> main"),
			want:  []at{conflictAt(5), conflictAt(7), conflictAt(9), conflictAt(10)},
		},
		{
			name:  "unclosed conflict in README.md reports only the opening marker",
			path:  "README.md",
			patch: hunk(1, "<<<<<<< HEAD", "Title", "======="),
			want:  []at{conflictAt(1)},
		},
		{
			name:  "separator after a closed conflict in README.md",
			path:  "README.md",
			patch: hunk(1, "<<<<<<< HEAD", ">>>>>>> x", "Title", "======="),
			want:  []at{conflictAt(1), conflictAt(2)},
		},
		{
			name: "conflict spanning hunks in README.md",
			path: "README.md",
			patch: "@@ -1,1 +1,3 @@\n+<<<<<<< HEAD\n+=======\n x\n" +
				"@@ -40,1 +42,2 @@\n y\n+>>>>>>> b\n",
			want: []at{conflictAt(1), conflictAt(2), conflictAt(43)},
		},
		{name: "context and removed lines are not checked", path: "main.go", patch: "@@ -1,3 +1,1 @@\n <<<<<<< HEAD\n-=======\n->>>>>>> x\n", want: []at{}},
		{
			name: "line numbers across several hunks",
			path: "main.go",
			patch: "@@ -1,3 +1,4 @@\n a\n-b\n+<<<<<<< one\n+c\n d\n" +
				"@@ -10,4 +11,3 @@ func f() {\n e\n-f\n-g\n+=======\n h\n" +
				"@@ -100 +100,2 @@\n-i\n+j\n+>>>>>>> two\n",
			want: []at{conflictAt(2), conflictAt(12), conflictAt(101)},
		},
		{
			name:  "CRLF line endings",
			path:  "main.go",
			patch: "@@ -1,2 +1,3 @@\r\n a\r\n+=======\r\n+-----BEGIN EC PRIVATE KEY-----\r\n",
			want:  []at{conflictAt(2), keyAt(3)},
		},
		{
			name:  "CRLF content only",
			path:  "main.go",
			patch: "@@ -1 +1 @@\n-x\n+=======\r\n",
			want:  []at{conflictAt(1)},
		},
		{
			name: "no newline at end of file",
			path: "main.go",
			patch: "@@ -1,2 +1,3 @@\n a\n-b\n\\ No newline at end of file\n+b\n+=======\n" +
				"\\ No newline at end of file\n",
			want: []at{conflictAt(3)},
		},
		{name: "omitted counts", path: "main.go", patch: "@@ -1 +1 @@\n-a\n+=======\n", want: []at{conflictAt(1)}},
		{name: "new file", path: "new.go", patch: "@@ -0,0 +1,2 @@\n+package x\n+=======", want: []at{conflictAt(2)}},
		{name: "empty context line without its space", path: "main.go", patch: "@@ -1,3 +1,3 @@\n a\n\n-x\n+=======\n", want: []at{conflictAt(3)}},
		{name: "lines beyond the hunk counts are ignored", path: "main.go", patch: "@@ -1,1 +1,1 @@\n-a\n+b\n+=======\n", want: []at{}},
		{name: "malformed header", path: "main.go", patch: "@@ -x +1,2 @@\n+=======\n", want: []at{}},
		{name: "lines before any header", path: "main.go", patch: "+=======\n+++ b/main.go\n", want: []at{}},
		{name: "file header before the hunk", path: "main.go", patch: "--- a/main.go\n+++ b/main.go\n@@ -1 +1 @@\n-a\n+=======\n", want: []at{conflictAt(1)}},
		{name: "added line starting with ++", path: "main.go", patch: "@@ -0,0 +1,1 @@\n+++ =======\n", want: []at{}},

		{name: "RSA key", path: "id_rsa", patch: hunk(1, "-----BEGIN RSA PRIVATE KEY-----", "MIIEow=="), want: []at{keyAt(1)}},
		{name: "EC key", path: "k.pem", patch: hunk(1, "-----BEGIN EC PRIVATE KEY-----"), want: []at{keyAt(1)}},
		{name: "DSA key", path: "k.pem", patch: hunk(1, "-----BEGIN DSA PRIVATE KEY-----"), want: []at{keyAt(1)}},
		{name: "OpenSSH key", path: "id_ed25519", patch: hunk(1, "-----BEGIN OPENSSH PRIVATE KEY-----"), want: []at{keyAt(1)}},
		{name: "PGP key", path: "k.asc", patch: hunk(1, "-----BEGIN PGP PRIVATE KEY BLOCK-----"), want: []at{keyAt(1)}},
		{name: "encrypted PKCS8 key", path: "k.pem", patch: hunk(1, "-----BEGIN ENCRYPTED PRIVATE KEY-----"), want: []at{keyAt(1)}},
		{name: "PKCS8 key", path: "k.pem", patch: hunk(1, "-----BEGIN PRIVATE KEY-----"), want: []at{keyAt(1)}},
		{name: "key inside a string", path: "cfg.json", patch: hunk(7, `{"key": "-----BEGIN PRIVATE KEY-----\nMIIE"}`), want: []at{keyAt(7)}},
		{name: "public key and certificate", path: "k.pem", patch: hunk(1, "-----BEGIN PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----"), want: []at{}},
		{name: "key header in removed line", path: "k.pem", patch: "@@ -1 +0,0 @@\n------BEGIN RSA PRIVATE KEY-----\n", want: []at{}},
		{name: "key header in context line", path: "k.pem", patch: "@@ -1,1 +1,2 @@\n -----BEGIN RSA PRIVATE KEY-----\n+x\n", want: []at{}},

		{name: "lines at the limit", path: "big.txt", patch: hunk(1, "a", "b", "c"), opts: small, want: []at{}},
		{name: "lines over the limit", path: "big.txt", patch: hunk(1, "a", "b", "c", "d"), opts: small, want: []at{{0, KindLargeFile, LevelWarning}}},
		{name: "bytes over the limit", path: "big.txt", patch: hunk(1, strings.Repeat("x", 100)), opts: small, want: []at{{0, KindLargeFileBytes, LevelWarning}}},
		{name: "bytes at the limit", path: "big.txt", patch: hunk(1, strings.Repeat("x", 99)), opts: small, want: []at{}},
		{
			name:  "only added lines count",
			path:  "big.txt",
			patch: "@@ -1,6 +1,3 @@\n a\n b\n c\n-d\n-e\n-f\n",
			opts:  small, want: []at{},
		},
		{
			name:  "default limits",
			path:  "gen.go",
			patch: hunk(1, strings.Split(strings.Repeat("x\n", DefaultMaxFileLines+1), "\n")[:DefaultMaxFileLines+1]...),
			want:  []at{{0, KindLargeFile, LevelWarning}},
		},
		{
			name:  "large file with a conflict",
			path:  "big.go",
			patch: hunk(1, "a", "b", "c", "======="),
			opts:  small,
			want:  []at{{0, KindLargeFile, LevelWarning}, conflictAt(4)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Check(tt.path, tt.patch, tt.opts)
			if g := got(fs); !reflect.DeepEqual(g, tt.want) {
				t.Errorf("Check(%q) = %v, want %v", tt.path, g, tt.want)
			}
			for _, f := range fs {
				if f.Path != tt.path || f.Message == "" {
					t.Errorf("finding %+v: want path %q and a message", f, tt.path)
				}
			}
		})
	}
}

func TestCheckKeyMessagesNeverEchoTheKey(t *testing.T) {
	const secret = "MIIEowIBAAKCAQEAsecretsecretsecret"
	kinds := map[string]string{
		"RSA PRIVATE KEY": "RSA", "EC PRIVATE KEY": "EC", "DSA PRIVATE KEY": "DSA", "OPENSSH PRIVATE KEY": "OpenSSH",
		"PGP PRIVATE KEY BLOCK": "PGP", "ENCRYPTED PRIVATE KEY": "encrypted PKCS #8", "PRIVATE KEY": "PKCS #8",
		"FANCY NEW PRIVATE KEY": "other type",
	}
	for label, kind := range kinds {
		line := `key = "-----BEGIN ` + label + `-----\n` + secret + `"`
		fs := Check("k.txt", hunk(1, line, secret), Options{})
		if len(fs) != 1 || fs[0].Kind != KindPrivateKey {
			t.Fatalf("%s: got %+v, want one private key finding", label, fs)
		}
		if !strings.Contains(fs[0].Message, "("+kind+")") {
			t.Errorf("%s: message %q does not name the kind %q", label, fs[0].Message, kind)
		}
		for _, leak := range []string{secret, "BEGIN", "-----"} {
			if strings.Contains(fs[0].Message, leak) {
				t.Errorf("%s: message %q contains %q", label, fs[0].Message, leak)
			}
		}
	}
}

func TestCheckCapsFindings(t *testing.T) {
	lines := strings.Split(strings.Repeat("=======\n", 500), "\n")[:500]
	fs := Check("main.go", hunk(1, lines...), Options{MaxFindings: 10})
	if len(fs) != 10 {
		t.Fatalf("got %d findings, want 10", len(fs))
	}
	if fs[0].Line != 1 || fs[9].Line != 10 {
		t.Errorf("kept lines %d..%d, want the first ten", fs[0].Line, fs[9].Line)
	}
	// A doc file whose separators wait for the closing marker is capped too.
	doc := append(append([]string{"<<<<<<< a"}, lines...), ">>>>>>> b")
	if fs := Check("README.md", hunk(1, doc...), Options{MaxFindings: 10}); len(fs) != 10 {
		t.Errorf("README.md: got %d findings, want 10", len(fs))
	}
}

func TestCollectorPrefersFailures(t *testing.T) {
	c := newCollector(3, 0)
	w := Finding{Path: "a", Kind: KindLargeFile, Level: LevelWarning, Message: "w"}
	f := Finding{Path: "b", Line: 1, Kind: KindPrivateKey, Level: LevelFailure, Message: "f"}
	for range 3 {
		c.add(w)
	}
	c.add(f)
	c.add(f)
	var failures int
	for _, x := range c.findings() {
		if x.Level == LevelFailure {
			failures++
		}
	}
	if len(c.findings()) != 3 || failures != 2 || c.omitted != 2 || c.failures != 2 || c.warnings != 3 {
		t.Errorf("kept %+v, omitted %d, counts %d/%d", c.findings(), c.omitted, c.failures, c.warnings)
	}

	// The JSON budget holds even when paths are long.
	c = newCollector(100, 2000)
	long := Finding{Path: strings.Repeat("<", 300), Line: 1, Kind: KindPrivateKey, Level: LevelFailure, Message: "m"}
	for range 10 {
		c.add(long)
	}
	if c.used > 2000 || len(c.findings()) == 0 || c.omitted == 0 {
		t.Errorf("used %d of 2000 with %d kept and %d omitted", c.used, len(c.findings()), c.omitted)
	}
}

func TestCheckFile(t *testing.T) {
	opts := Options{MaxFileLines: 10}.withDefaults()
	conflict := "@@ -1 +1 @@\n-a\n+=======\n"
	tests := []struct {
		name string
		file *github.CommitFile
		want []Finding
	}{
		{
			name: "modified",
			file: &github.CommitFile{Filename: github.String("m.go"), Status: github.String("modified"), Patch: github.String(conflict)},
			want: []Finding{{Path: "m.go", Line: 1, Kind: KindConflictMarker, Level: LevelFailure}},
		},
		{
			name: "renamed is checked under the new name",
			file: &github.CommitFile{Filename: github.String("new.go"), PreviousFilename: github.String("old.go"),
				Status: github.String("renamed"), Patch: github.String(conflict)},
			want: []Finding{{Path: "new.go", Line: 1, Kind: KindConflictMarker, Level: LevelFailure}},
		},
		{
			name: "binary without patch, few additions",
			file: &github.CommitFile{Filename: github.String("logo.png"), Status: github.String("added"), Additions: github.Int(0)},
		},
		{
			name: "no patch, additions over the limit",
			file: &github.CommitFile{Filename: github.String("vendor.js"), Status: github.String("added"), Additions: github.Int(11)},
			want: []Finding{{Path: "vendor.js", Kind: KindLargeFile, Level: LevelWarning}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollector(opts.MaxFindings, 0)
			checkFile(c, tt.file, opts)
			fs := c.findings()
			for i := range fs {
				if fs[i].Message == "" {
					t.Errorf("finding %d has no message", i)
				}
				fs[i].Message = ""
			}
			if len(fs) == 0 {
				fs = nil
			}
			if !reflect.DeepEqual(fs, tt.want) {
				t.Errorf("got %+v, want %+v", fs, tt.want)
			}
		})
	}
}
