package hygiene

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func sample() Details {
	return Details{
		Files: 3,
		Findings: []Finding{
			{Path: "z.go", Line: 9, Kind: KindConflictMarker, Level: LevelFailure, Message: "conflict"},
			{Path: "a.bin", Kind: KindLargeFile, Level: LevelWarning, Message: "large"},
			{Path: "z.go", Line: 2, Kind: KindPrivateKey, Level: LevelFailure, Message: "key"},
			{Path: "z.go", Line: 2, Kind: KindConflictMarker, Level: LevelFailure, Message: "conflict"},
		},
	}
}

func TestConclusionAndTitle(t *testing.T) {
	warn := Finding{Path: "a", Kind: KindLargeFile, Level: LevelWarning, Message: "w"}
	fail := Finding{Path: "b", Line: 1, Kind: KindConflictMarker, Level: LevelFailure, Message: "f"}
	tests := []struct {
		name       string
		d          Details
		conclusion string
		title      string
	}{
		{"empty", Details{}, "success", "No problems in 0 files"},
		{"clean", Details{Files: 5}, "success", "No problems in 5 files"},
		{"clean one file", Details{Files: 1}, "success", "No problems in 1 file"},
		{"clean capped", Details{Files: 3000, FileListCapped: true}, "success", "No problems in the first 3000 files"},
		{"warning only", Details{Files: 2, Findings: []Finding{warn}}, "neutral", "1 problem in 1 file"},
		{"failure", Details{Files: 2, Findings: []Finding{fail, warn}}, "failure", "2 problems in 2 files"},
		{"sample", sample(), "failure", "4 problems in 2 files"},
		{"two in one file", Details{Files: 2, Findings: []Finding{fail, fail}}, "failure", "2 problems in 1 file"},
		{
			"truncated counts win", Details{Files: 9, Failures: 1, Warnings: 40, Findings: []Finding{warn}, Truncated: true},
			"failure", "41 problems in at least 1 file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := tt.d.Conclusion(); c != tt.conclusion {
				t.Errorf("Conclusion() = %q, want %q", c, tt.conclusion)
			}
			if ti := tt.d.Title(); ti != tt.title {
				t.Errorf("Title() = %q, want %q", ti, tt.title)
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	t.Run("no findings", func(t *testing.T) {
		md := Details{Files: 5, Removed: 2}.Markdown()
		if !strings.HasPrefix(md, "No findings.") || !strings.Contains(md, "5 changed files") ||
			!strings.Contains(md, "2 removed files not checked") || strings.Contains(md, "|") {
			t.Errorf("Markdown() = %q", md)
		}
	})
	t.Run("table", func(t *testing.T) {
		md := sample().Markdown()
		want := "Checked 3 changed files: 3 failures, 1 warning in 2 files.\n" +
			"\n| File | Line | Kind | Message |\n| --- | ---: | --- | --- |\n" +
			"| a.bin | whole file | large-file | large |\n" +
			"| z.go | 2 | conflict-marker | conflict |\n" +
			"| z.go | 2 | private-key | key |\n" +
			"| z.go | 9 | conflict-marker | conflict |\n"
		if md != want {
			t.Errorf("Markdown() =\n%s\nwant\n%s", md, want)
		}
	})
	t.Run("escaping", func(t *testing.T) {
		d := Details{Files: 1, Findings: []Finding{{
			Path: "a|b`c\nd\r\ne<script>&_*[x](y)~\\.go", Line: 1, Kind: KindConflictMarker, Level: LevelFailure,
			Message: "m|1\nline2 <b>",
		}}}
		md := d.Markdown()
		row := "| a\\|b\\`c d  e&lt;script&gt;&amp;\\_\\*\\[x\\](y)\\~\\\\.go | 1 | conflict-marker | m\\|1 line2 &lt;b&gt; |\n"
		if !strings.Contains(md, row) {
			t.Errorf("Markdown() =\n%s\nwant the row\n%s", md, row)
		}
		for _, bad := range []string{"<script>", "<b>", "\r"} {
			if strings.Contains(md, bad) {
				t.Errorf("Markdown() contains %q", bad)
			}
		}
		// Every table line has exactly the five unescaped pipes of four cells.
		for _, l := range strings.Split(md, "\n") {
			if strings.HasPrefix(l, "|") {
				if n := strings.Count(l, "|") - strings.Count(l, `\|`); n != 5 {
					t.Errorf("row %q has %d pipes", l, n)
				}
			}
		}
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		d := Details{Files: 1, Findings: []Finding{{Path: "a\xffb", Line: 1, Kind: KindPrivateKey, Level: LevelFailure, Message: "m"}}}
		if md := d.Markdown(); !utf8.ValidString(md) {
			t.Errorf("Markdown() is not valid UTF-8: %q", md)
		}
	})
	t.Run("truncated and capped", func(t *testing.T) {
		d := Details{Files: 3000, FileListCapped: true, Failures: 150, Truncated: true}
		for i := range 100 {
			d.Findings = append(d.Findings, Finding{Path: "f.go", Line: i + 1, Kind: KindConflictMarker, Level: LevelFailure, Message: "m"})
		}
		md := d.Markdown()
		for _, want := range []string{"**Truncated:** only 100 of 150 findings", "at most 3,000 files"} {
			if !strings.Contains(md, want) {
				t.Errorf("Markdown() does not say %q:\n%s", want, md)
			}
		}
	})
	t.Run("long paths stay within the budget", func(t *testing.T) {
		var d Details
		for i := range 100 {
			d.Findings = append(d.Findings, Finding{Path: strings.Repeat("d/", 500) + "f.go", Line: i + 1,
				Kind: KindConflictMarker, Level: LevelFailure, Message: "m"})
		}
		md := d.Markdown()
		if len(md) > markdownBudget+500 {
			t.Errorf("Markdown() is %d bytes", len(md))
		}
		if !strings.Contains(md, "more findings not shown in this table") {
			t.Errorf("Markdown() does not say rows were left out")
		}
	})
}

func TestAnnotations(t *testing.T) {
	type ann struct {
		Path, Level, Title string
		Start, End         int
	}
	var got []ann
	for _, a := range sample().Annotations() {
		if a.StartColumn != nil || a.EndColumn != nil || a.GetMessage() == "" {
			t.Errorf("annotation %v: columns set or empty message", a)
		}
		got = append(got, ann{a.GetPath(), a.GetAnnotationLevel(), a.GetTitle(), a.GetStartLine(), a.GetEndLine()})
	}
	want := []ann{
		{"a.bin", "warning", "Large file", 1, 1},
		{"z.go", "failure", "Merge conflict marker", 2, 2},
		{"z.go", "failure", "Private key", 2, 2},
		{"z.go", "failure", "Merge conflict marker", 9, 9},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Annotations() = %+v, want %+v", got, want)
	}

	t.Run("limits", func(t *testing.T) {
		d := Details{Findings: []Finding{
			{Path: "a", Line: 1, Kind: Kind(strings.Repeat("é", 300)), Level: "odd", Message: strings.Repeat("ü", 40_000)},
			{Path: "", Line: 1, Kind: KindPrivateKey, Level: LevelFailure, Message: "no path"},
			{Path: "b", Line: 3, Kind: KindPrivateKey, Level: LevelFailure},
		}}
		as := d.Annotations()
		if len(as) != 2 {
			t.Fatalf("got %d annotations, want 2 (the one without a path left out)", len(as))
		}
		a := as[0]
		if n := utf8.RuneCountInString(a.GetTitle()); n > 255 {
			t.Errorf("title has %d characters", n)
		}
		if n := len(a.GetMessage()); n > 64_000 || !utf8.ValidString(a.GetMessage()) {
			t.Errorf("message has %d bytes (valid UTF-8: %v)", n, utf8.ValidString(a.GetMessage()))
		}
		if a.GetAnnotationLevel() != "warning" {
			t.Errorf("unknown level became %q, want warning", a.GetAnnotationLevel())
		}
		if as[1].GetMessage() == "" {
			t.Errorf("empty message not filled in")
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		d := sample()
		a1, _ := json.Marshal(d.Annotations())
		d.Findings[0], d.Findings[3] = d.Findings[3], d.Findings[0]
		a2, _ := json.Marshal(d.Annotations())
		if string(a1) != string(a2) {
			t.Errorf("order depends on the order of Findings:\n%s\n%s", a1, a2)
		}
	})
}

func TestDetailsJSON(t *testing.T) {
	b, err := json.Marshal(Details{Files: 2, Findings: []Finding{{Path: "a", Kind: KindLargeFile, Level: LevelWarning, Message: "m"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"files":2,"findings":[{"path":"a","kind":"large-file","level":"warning","message":"m"}]}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	var back Details
	if err := json.Unmarshal([]byte(`{"files":1,"failures":2,"truncated":true,"fileListCapped":true}`), &back); err != nil ||
		!reflect.DeepEqual(back, Details{Files: 1, Failures: 2, Truncated: true, FileListCapped: true}) {
		t.Errorf("Unmarshal = %+v, %v", back, err)
	}
}
