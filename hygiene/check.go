// Package hygiene is prreconciler's built-in "diff hygiene" reconciler: it reads the files a pull request
// changes and reports merge-conflict markers, committed private keys and oversized files on added lines.
//
// Check and Reconcile are the checks; Reconciler is the reconciler the worker runs (it reconciles only a
// pull request's head, and completes a request for an older commit as "Superseded"); Config is its own
// environment (HYGIENE_*), read beside the worker's; App is the whole of cmd/worker:
// worker.Main(hygiene.App()).
package hygiene

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Defaults used when an Options field is zero (or negative).
const (
	// DefaultMaxFileBytes is the largest number of bytes of added lines one file may carry before it is
	// reported as large: 1 MiB.
	DefaultMaxFileBytes = 1 << 20
	// DefaultMaxFileLines is the largest number of added lines one file may carry before it is reported
	// as large.
	DefaultMaxFileLines = 1000
	// DefaultMaxFindings bounds the findings kept, so that a hostile pull request cannot make an
	// unbounded status. It is 100, not more, because the findings are stored as indented JSON in the
	// check run summary next to the Markdown, and the whole summary must fit in 65,535 bytes (one
	// finding takes about 150-250 bytes of indented JSON and as much again as a table row).
	DefaultMaxFindings = 100
)

// Options bound what is reported. The zero value uses the defaults above.
type Options struct {
	// MaxFileBytes is the largest number of bytes of added lines (their content and newline) a file may
	// add without a warning; 0 means DefaultMaxFileBytes.
	MaxFileBytes int
	// MaxFileLines is the largest number of added lines a file may add without a warning; 0 means
	// DefaultMaxFileLines.
	MaxFileLines int
	// MaxFindings is the most findings Check returns for one file and Reconcile keeps for a pull
	// request; 0 means DefaultMaxFindings. When findings must be dropped, failures are kept in
	// preference to warnings.
	MaxFindings int
}

func (o Options) withDefaults() Options {
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.MaxFileLines <= 0 {
		o.MaxFileLines = DefaultMaxFileLines
	}
	if o.MaxFindings <= 0 {
		o.MaxFindings = DefaultMaxFindings
	}
	return o
}

// Kind says what a finding is about. Its values are stable: they are stored in check runs.
type Kind string

// The kinds of finding.
const (
	// KindConflictMarker is a merge-conflict marker (<<<<<<<, =======, |||||||, >>>>>>>) on an added line.
	KindConflictMarker Kind = "conflict-marker"
	// KindPrivateKey is the header of a PEM or PGP private key on an added line.
	KindPrivateKey Kind = "private-key"
	// KindLargeFile is a file that adds more lines than Options.MaxFileLines (or, without a patch, whose
	// additions count does).
	KindLargeFile Kind = "large-file"
	// KindLargeFileBytes is a file whose added lines carry more bytes than Options.MaxFileBytes.
	KindLargeFileBytes Kind = "large-file-bytes"
)

// Annotation levels used by findings (GitHub's annotation_level values).
const (
	LevelFailure = "failure"
	LevelWarning = "warning"
)

// Finding is one problem on one added line, or on a whole file for size findings.
type Finding struct {
	// Path is the file's path in the pull request's head (the new name of a renamed file).
	Path string `json:"path"`
	// Line is the line number in the new file; 0 for a whole-file finding.
	Line int `json:"line,omitempty"`
	// Kind says what was found.
	Kind Kind `json:"kind"`
	// Level is LevelFailure or LevelWarning.
	Level string `json:"level"`
	// Message explains the finding. It never quotes the line's content (a private key must not be
	// echoed into a check run).
	Message string `json:"message"`
}

// Check scans one file's unified diff patch, as the pull request files API returns it (hunks starting
// "@@ -a,b +c,d @@", no file header), and returns the findings on added lines, with their line numbers
// in the new file, sorted by line and kind. It returns at most opts.MaxFindings findings.
//
// Rules:
//   - Merge-conflict markers: an added line starting with "<<<<<<< " or ">>>>>>> ", or one that is exactly
//     "=======" or "|||||||" (or starts with "||||||| ", diff3's base marker). Level failure.
//     In Markdown, reStructuredText, AsciiDoc and plain-text files "=======" is a heading underline and
//     "|||||||" can be a table row, so there those two are reported only when they sit between a
//     "<<<<<<< " and a ">>>>>>> " line in the added lines of the file; everywhere else they are reported
//     on their own (an exact seven-character "=======" line is very rarely anything but a conflict in
//     source code, and a false positive there costs less than a committed conflict).
//   - Private keys: an added line containing "-----BEGIN <...>PRIVATE KEY-----" or "-----BEGIN PGP
//     PRIVATE KEY BLOCK-----". Level failure. The message names the kind of key only.
//   - Large files: more than opts.MaxFileLines added lines, or more than opts.MaxFileBytes bytes in added
//     lines (content plus newline): one warning for the file, on line 0.
//
// The patch may use CRLF line endings and "\ No newline at end of file" markers, and hunk headers may omit
// their counts ("@@ -1 +1 @@"). Hunk headers are trusted: lines beyond a hunk's declared counts, and hunks
// whose header does not parse, are ignored until the next header. Check never panics.
func Check(path string, patch string, opts Options) []Finding {
	opts = opts.withDefaults()
	c := newCollector(opts.MaxFindings, 0)
	checkPatch(c, path, patch, opts)
	out := c.findings()
	sortFindings(out)
	return out
}

// maxHunkNumber bounds the numbers of a hunk header, so line arithmetic cannot overflow.
const maxHunkNumber = 1_000_000_000

// hunkRange parses "n" or "n,m" of a hunk header; m defaults to 1.
func hunkRange(s string) (start, count int, ok bool) {
	a, b, hasCount := strings.Cut(s, ",")
	start, ok = smallNumber(a)
	if !ok {
		return 0, 0, false
	}
	count = 1
	if hasCount {
		if count, ok = smallNumber(b); !ok {
			return 0, 0, false
		}
	}
	if start == 0 && count != 0 {
		return 0, 0, false // a range starting at line 0 must be empty
	}
	return start, count, true
}

func smallNumber(s string) (int, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= maxHunkNumber
}

// hunkHeader parses "@@ -a[,b] +c[,d] @@[ section]".
func hunkHeader(line string) (oldCount, newStart, newCount int, ok bool) {
	rest, found := strings.CutPrefix(line, "@@ -")
	if !found {
		return 0, 0, 0, false
	}
	oldRange, rest, found := strings.Cut(rest, " +")
	if !found {
		return 0, 0, 0, false
	}
	newRange, rest, found := strings.Cut(rest, " ")
	if !found || !strings.HasPrefix(rest, "@@") {
		return 0, 0, 0, false
	}
	_, oldCount, ok = hunkRange(oldRange)
	if !ok {
		return 0, 0, 0, false
	}
	newStart, newCount, ok = hunkRange(newRange)
	if !ok {
		return 0, 0, 0, false
	}
	return oldCount, newStart, newCount, true
}

// docExtensions are the file types where "=======" is commonly a heading underline.
var docExtensions = map[string]bool{
	".md": true, ".markdown": true, ".mdown": true, ".mkd": true, ".mkdn": true, ".mdx": true,
	".rst": true, ".rest": true,
	".adoc": true, ".asciidoc": true, ".asc": true,
	".txt": true,
}

func isDocFile(p string) bool {
	return docExtensions[strings.ToLower(path.Ext(p))]
}

// separator is a conflict separator line of a doc file, reported only once the conflict closes.
type separator struct {
	line   int
	marker string
}

// checkPatch adds the findings of one file's patch to c.
func checkPatch(c *collector, filePath, patch string, opts Options) {
	doc := isDocFile(filePath)
	var (
		inHunk              bool
		oldLeft, newLeft    int
		newLine             int
		addedLines          int
		addedBytes          int64
		open                bool        // a "<<<<<<< " was added and not yet closed
		pending             []separator // doc files: "=======" / "|||||||" lines waiting for a closing ">>>>>>> "
		pendingOver         int         // pending separators beyond the ones remembered
		conflictMessageBase = "Merge conflict marker %s: resolve the conflict before merging."
	)
	conflict := func(line int, marker string) {
		c.add(Finding{Path: filePath, Line: line, Kind: KindConflictMarker, Level: LevelFailure,
			Message: fmt.Sprintf(conflictMessageBase, strconv.Quote(marker))})
	}
	for rest := patch; rest != ""; {
		var raw string
		raw, rest, _ = strings.Cut(rest, "\n")
		raw = strings.TrimSuffix(raw, "\r")
		if strings.HasPrefix(raw, "@@") {
			oc, ns, nc, ok := hunkHeader(raw)
			inHunk = ok && (oc > 0 || nc > 0)
			oldLeft, newLeft, newLine = oc, nc, ns
			continue
		}
		if !inHunk {
			continue
		}
		op, text := byte(' '), ""
		if raw != "" {
			op, text = raw[0], raw[1:]
		}
		switch op {
		case '\\': // "\ No newline at end of file"
			continue
		case '-':
			if oldLeft == 0 {
				inHunk = false
				continue
			}
			oldLeft--
		case ' ':
			if oldLeft == 0 || newLeft == 0 {
				inHunk = false
				continue
			}
			oldLeft--
			newLeft--
			newLine++
		case '+':
			if newLeft == 0 {
				inHunk = false
				continue
			}
			newLeft--
			line := newLine
			newLine++
			addedLines++
			addedBytes += int64(len(text)) + 1
			switch {
			case strings.HasPrefix(text, "<<<<<<< "):
				conflict(line, "<<<<<<<")
				open = true
			case strings.HasPrefix(text, ">>>>>>> "):
				conflict(line, ">>>>>>>")
				if open {
					for _, p := range pending {
						conflict(p.line, p.marker)
					}
					c.failures += pendingOver
					c.omitted += pendingOver
				}
				open, pending, pendingOver = false, nil, 0
			case text == "=======" || text == "|||||||" || strings.HasPrefix(text, "||||||| "):
				marker := text[:7]
				switch {
				case !doc:
					conflict(line, marker)
				case open && len(pending) < opts.MaxFindings:
					pending = append(pending, separator{line, marker})
				case open:
					pendingOver++
				}
			}
			if strings.Contains(text, "-----BEGIN ") {
				if kind, ok := privateKeyKind(text); ok {
					c.add(Finding{Path: filePath, Line: line, Kind: KindPrivateKey, Level: LevelFailure,
						Message: "Private key (" + kind + ") committed: remove it, and revoke it as it stays in the branch history."})
				}
			}
		default:
			// Not a diff line: the hunk is malformed from here on.
			inHunk = false
		}
		if oldLeft == 0 && newLeft == 0 {
			inHunk = false
		}
	}
	switch {
	case addedBytes > int64(opts.MaxFileBytes):
		msg := fmt.Sprintf("File adds %s in %d lines; the limit is %s.", humanBytes(addedBytes), addedLines,
			humanBytes(int64(opts.MaxFileBytes)))
		c.add(Finding{Path: filePath, Kind: KindLargeFileBytes, Level: LevelWarning, Message: msg})
	case addedLines > opts.MaxFileLines:
		msg := fmt.Sprintf("File adds %d lines; the limit is %d.", addedLines, opts.MaxFileLines)
		c.add(Finding{Path: filePath, Kind: KindLargeFile, Level: LevelWarning, Message: msg})
	}
}

// keyKinds names the kinds of private key by the label of their PEM (or PGP armor) header.
var keyKinds = map[string]string{
	"RSA PRIVATE KEY":       "RSA",
	"EC PRIVATE KEY":        "EC",
	"DSA PRIVATE KEY":       "DSA",
	"OPENSSH PRIVATE KEY":   "OpenSSH",
	"PGP PRIVATE KEY BLOCK": "PGP",
	"ENCRYPTED PRIVATE KEY": "encrypted PKCS #8",
	"PRIVATE KEY":           "PKCS #8",
}

// privateKeyKind reports whether text contains a private key header and, if so, a name for the kind of
// key. The name comes from a fixed list: nothing of the line itself is returned.
func privateKeyKind(text string) (string, bool) {
	const begin, dashes = "-----BEGIN ", "-----"
	for {
		i := strings.Index(text, begin)
		if i < 0 {
			return "", false
		}
		text = text[i+len(begin):]
		j := strings.Index(text, dashes)
		if j < 0 {
			return "", false
		}
		label := text[:j]
		if kind, ok := keyKinds[label]; ok {
			return kind, true
		}
		if strings.HasSuffix(label, " PRIVATE KEY") && len(label) <= 64 && isUpperLabel(label) {
			return "other type", true
		}
	}
}

func isUpperLabel(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// humanBytes formats n as bytes, KiB or MiB.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// sortFindings orders findings by path, line and kind (and then level and message, so the order is total).
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Level != b.Level {
			return a.Level < b.Level
		}
		return a.Message < b.Message
	})
}
