package hygiene

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
)

// Details is the reconciler's typed status. It is stored as JSON in the check run (through the
// statusmanager), so its fields are stable and compact; it implements Markdown() for the check run
// summary and Annotations() (the statusmanager's Annotated interface) for line annotations.
type Details struct {
	// Files is the number of changed files checked (removed files are not counted).
	Files int `json:"files"`
	// Removed is the number of removed files, which are not checked.
	Removed int `json:"removed,omitempty"`
	// Failures and Warnings count every finding, including those left out of Findings when Truncated.
	// When they are smaller than what Findings holds (a hand-made Details), Findings is counted instead.
	Failures int `json:"failures,omitempty"`
	Warnings int `json:"warnings,omitempty"`
	// Findings are the findings kept, ordered by path, line and kind.
	Findings []Finding `json:"findings,omitempty"`
	// Truncated says that Findings holds only some of the findings (see Options.MaxFindings); failures
	// are kept in preference to warnings, so a failure is never hidden entirely.
	Truncated bool `json:"truncated,omitempty"`
	// FileListCapped says GitHub listed fewer files than the pull request changed (its listing of a
	// pull request's files stops at 3,000): the files beyond were not checked.
	FileListCapped bool `json:"fileListCapped,omitempty"`
}

// counts returns the number of failures and warnings, from the counters or from Findings.
func (d Details) counts() (failures, warnings int) {
	for _, f := range d.Findings {
		if f.Level == LevelFailure {
			failures++
		} else {
			warnings++
		}
	}
	return max(failures, d.Failures), max(warnings, d.Warnings)
}

// filesWithFindings is the number of distinct paths in Findings.
func (d Details) filesWithFindings() int {
	seen := make(map[string]bool)
	for _, f := range d.Findings {
		seen[f.Path] = true
	}
	return len(seen)
}

// Conclusion is the check run conclusion: "failure" if any finding is a failure, "neutral" if there are
// only warnings, "success" if there are none.
func (d Details) Conclusion() string {
	failures, warnings := d.counts()
	switch {
	case failures > 0:
		return "failure"
	case warnings > 0:
		return "neutral"
	default:
		return "success"
	}
}

// Title is the check run title, e.g. "2 problems in 1 file" or "No problems in 5 files".
func (d Details) Title() string {
	failures, warnings := d.counts()
	total := failures + warnings
	if total == 0 {
		if d.FileListCapped {
			return "No problems in the first " + plural(d.Files, "file")
		}
		return "No problems in " + plural(d.Files, "file")
	}
	files := d.filesWithFindings()
	if d.Truncated || total > len(d.Findings) {
		return fmt.Sprintf("%s in at least %s", plural(total, "problem"), plural(files, "file"))
	}
	return fmt.Sprintf("%s in %s", plural(total, "problem"), plural(files, "file"))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// markdownBudget bounds the table rows Markdown writes. The statusmanager stores the details' JSON in the
// same 65,535-byte summary and cuts the Markdown when both do not fit; stopping the table early keeps
// the cut clean and says how many rows are left out.
const markdownBudget = 30_000

// Markdown renders the check run summary: the counts, then a table of the findings ordered by file
// (path | line | kind | message), or "No findings" when there are none. Cell text is escaped so that
// paths cannot break the table or inject HTML.
func (d Details) Markdown() string {
	var b strings.Builder
	failures, warnings := d.counts()
	checked := "Checked " + plural(d.Files, "changed file")
	if d.Removed > 0 {
		checked += " (" + plural(d.Removed, "removed file") + " not checked)"
	}
	if failures+warnings == 0 {
		fmt.Fprintf(&b, "No findings. %s.\n", checked)
	} else {
		fmt.Fprintf(&b, "%s: %s, %s in %s.\n", checked, plural(failures, "failure"), plural(warnings, "warning"),
			plural(d.filesWithFindings(), "file"))
	}
	if d.FileListCapped {
		b.WriteString("\nGitHub lists at most 3,000 files of a pull request: files beyond those were not checked.\n")
	}
	if len(d.Findings) > 0 {
		fs := slices.Clone(d.Findings)
		sortFindings(fs)
		b.WriteString("\n| File | Line | Kind | Message |\n| --- | ---: | --- | --- |\n")
		shown := 0
		for _, f := range fs {
			line := "whole file"
			if f.Line > 0 {
				line = strconv.Itoa(f.Line)
			}
			row := "| " + mdCell(f.Path) + " | " + line + " | " + mdCell(string(f.Kind)) + " | " + mdCell(f.Message) + " |\n"
			if b.Len()+len(row) > markdownBudget {
				break
			}
			b.WriteString(row)
			shown++
		}
		if shown < len(fs) {
			fmt.Fprintf(&b, "\n%s not shown in this table; the annotations list them all.\n", plural(len(fs)-shown, "more finding"))
		}
	}
	if omitted := failures + warnings - len(d.Findings); d.Truncated || omitted > 0 {
		fmt.Fprintf(&b, "\n**Truncated:** only %d of %s are listed; fix these and push again to see the rest.\n",
			len(d.Findings), plural(failures+warnings, "finding"))
	}
	return b.String()
}

// mdCell escapes s for a cell of a GitHub-flavoured Markdown table: no line breaks, no table pipes, no
// code spans or emphasis, no HTML.
func mdCell(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '|', r == '`', r == '\\', r == '*', r == '_', r == '[', r == ']', r == '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r < 0x20, r == 0x7f, r == '\u2028', r == '\u2029':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// GitHub's limits on an annotation ([reference §2.4]): the title at most 255 characters, the message at
// most 64 KB (counted here as 64,000 bytes, whichever unit GitHub uses).
const (
	maxAnnotationTitle   = 255
	maxAnnotationMessage = 64_000
)

var kindTitles = map[Kind]string{
	KindConflictMarker: "Merge conflict marker",
	KindPrivateKey:     "Private key",
	KindLargeFile:      "Large file",
	KindLargeFileBytes: "Large file",
}

// Annotations returns one annotation per finding (the statusmanager's Annotated interface), ordered by
// path, line and kind: on the finding's line (start_line = end_line), whole-file findings on line 1, at the
// finding's level (failure or warning), with title and message cut to GitHub's limits. Findings without a
// path cannot be annotated and are left out.
func (d Details) Annotations() []*github.CheckRunAnnotation {
	fs := slices.Clone(d.Findings)
	sortFindings(fs)
	out := make([]*github.CheckRunAnnotation, 0, len(fs))
	for _, f := range fs {
		if f.Path == "" {
			continue
		}
		line := max(f.Line, 1)
		level := LevelWarning
		if f.Level == LevelFailure {
			level = LevelFailure
		}
		title, ok := kindTitles[f.Kind]
		if !ok {
			title = string(f.Kind)
		}
		msg := f.Message
		if msg == "" {
			msg = title
		}
		out = append(out, &github.CheckRunAnnotation{
			Path:            github.String(f.Path),
			StartLine:       github.Int(line),
			EndLine:         github.Int(line),
			AnnotationLevel: github.String(level),
			Title:           github.String(cutRunes(strings.ToValidUTF8(title, "\uFFFD"), maxAnnotationTitle)),
			Message:         github.String(cutBytes(strings.ToValidUTF8(msg, "\uFFFD"), maxAnnotationMessage)),
		})
	}
	return out
}

// cutRunes returns s cut to at most n characters.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n - 1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// cutBytes returns s cut at a UTF-8 boundary to at most n bytes.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	i := n - len(ellipsis)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + ellipsis
}
