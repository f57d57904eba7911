package statusmanager

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

type fuzzDetails struct {
	Text  string         `json:"text"`
	N     int            `json:"n"`
	Items []string       `json:"items,omitempty"`
	Map   map[string]int `json:"map,omitempty"`
}

// roundTrip embeds st after markdown the way SetActualState does and reads it back.
func roundTrip(t testing.TB, identity, markdown string, st *Status[fuzzDetails]) (string, *Status[fuzzDetails]) {
	t.Helper()
	marker, err := encodeMarker(identity, st)
	if err != nil {
		t.Fatalf("encodeMarker: %v", err)
	}
	summary, err := renderSummary(markdown, marker)
	if err != nil {
		t.Fatalf("renderSummary: %v", err)
	}
	got, err := DecodeSummary[fuzzDetails](identity, summary)
	if err != nil {
		t.Fatalf("DecodeSummary: %v\nsummary tail: %q", err, summary[max(0, len(summary)-300):])
	}
	return summary, got
}

func TestMarkerLayout(t *testing.T) {
	st := &Status[fuzzDetails]{ObservedGeneration: "abc", Status: "completed", Conclusion: "success", Details: fuzzDetails{Text: "hi", N: 1}}
	summary, _ := roundTrip(t, "lint", "# Report", st)
	want := "# Report\n\n<!--lint-status-->\n<!--\n{\n  \"observedGeneration\": \"abc\",\n  \"status\": \"completed\",\n  \"conclusion\": \"success\",\n  \"details\": {\n    \"text\": \"hi\",\n    \"n\": 1\n  }\n}\n-->\n<!--/lint-status-->"
	if summary != want {
		t.Errorf("summary layout:\n%s\nwant:\n%s", summary, want)
	}
}

func TestDecodeSummary(t *testing.T) {
	good := "<!--id-status-->\n<!--\n{\"observedGeneration\":\"a\",\"status\":\"in_progress\",\"details\":{\"n\":2}}\n-->\n<!--/id-status-->"
	forged := "<!--id-status-->\n<!--\n{\"observedGeneration\":\"forged\",\"status\":\"completed\",\"conclusion\":\"success\",\"details\":{}}\n-->\n<!--/id-status-->"
	tests := []struct {
		name    string
		summary string
		wantGen string
		wantErr error
	}{
		{"marker only", good, "a", nil},
		{"after markdown", "# hi\n\n" + good, "a", nil},
		{"last marker wins over a forged one before it", forged + "\n" + good, "a", nil},
		{"no marker", "just text", "", ErrNoStatus},
		{"empty", "", "", ErrNoStatus},
		{"other identity", strings.ReplaceAll(good, "id-status", "other-status"), "", ErrNoStatus},
		{"no end marker", "<!--id-status-->\n<!--\n{}\n-->", "", ErrCorruptStatus},
		{"corrupt json", "<!--id-status-->\n<!--\n{\"status\": \n-->\n<!--/id-status-->", "", ErrCorruptStatus},
		{"json not in comment", "<!--id-status-->\n{}\n<!--/id-status-->", "", ErrCorruptStatus},
		{"trailing data", "<!--id-status-->\n<!--\n{} {}\n-->\n<!--/id-status-->", "", ErrCorruptStatus},
		{"wrong type", "<!--id-status-->\n<!--\n{\"details\":{\"n\":\"x\"}}\n-->\n<!--/id-status-->", "", ErrCorruptStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSummary[fuzzDetails]("id", tt.summary)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && got.ObservedGeneration != tt.wantGen {
				t.Errorf("ObservedGeneration = %q, want %q", got.ObservedGeneration, tt.wantGen)
			}
		})
	}
}

func TestRenderSummaryTruncates(t *testing.T) {
	st := &Status[fuzzDetails]{ObservedGeneration: "abc", Status: "completed", Conclusion: "failure"}
	tests := []struct {
		name     string
		markdown string
		cut      bool
	}{
		{"fits", strings.Repeat("a", 1000), false},
		{"exactly at the limit is not cut", "", false},
		{"ascii over", strings.Repeat("a", 70000), true},
		{"multi-byte over", strings.Repeat("é€😀", 10000), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			summary, got := roundTrip(t, "id", tt.markdown, st)
			if len(summary) > MaxSummaryBytes {
				t.Fatalf("summary is %d bytes, over %d", len(summary), MaxSummaryBytes)
			}
			if !utf8.ValidString(summary) {
				t.Fatal("summary is not valid UTF-8: cut inside a character")
			}
			if !reflect.DeepEqual(got, st) {
				t.Errorf("read back %+v, want %+v", got, st)
			}
			if hasNote := strings.Contains(summary, "was truncated"); hasNote != tt.cut {
				t.Errorf("truncation note present = %v, want %v", hasNote, tt.cut)
			}
		})
	}
}

func TestRenderSummaryExactFit(t *testing.T) {
	st := &Status[fuzzDetails]{ObservedGeneration: "abc", Status: "queued"}
	marker, _ := encodeMarker("id", st)
	md := strings.Repeat("x", MaxSummaryBytes-len(marker)-2)
	summary, err := renderSummary(md, marker)
	if err != nil || len(summary) != MaxSummaryBytes || strings.Contains(summary, "truncated") {
		t.Fatalf("exact fit: len %d, err %v, truncated %v", len(summary), err, strings.Contains(summary, "truncated"))
	}
	if _, err := renderSummary(md+"y", marker); err != nil {
		t.Fatal(err)
	}
}

func TestStatusTooLarge(t *testing.T) {
	st := &Status[fuzzDetails]{Status: "completed", Conclusion: "success", Details: fuzzDetails{Text: strings.Repeat("z", MaxSummaryBytes)}}
	marker, err := encodeMarker("id", st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := renderSummary("", marker); !errors.Is(err, ErrStatusTooLarge) {
		t.Fatalf("err = %v, want ErrStatusTooLarge", err)
	}
}

// FuzzMarkerRoundTrip: any Markdown and any details round-trip, and nothing in the Markdown
// (forged markers, comment terminators, invalid UTF-8) changes what is read back.
func FuzzMarkerRoundTrip(f *testing.F) {
	forged := "<!--fz-status-->\n<!--\n{\"observedGeneration\":\"evil\",\"status\":\"completed\",\"conclusion\":\"success\",\"details\":{}}\n-->\n<!--/fz-status-->"
	f.Add("", "", 0, "")
	f.Add("# Title\n\n| a | b |\n|---|---|\n", "details", 3, "item")
	f.Add(forged, "x", 1, "")
	f.Add("-->", "-->", 0, "<!--")
	f.Add("<!--/fz-status-->", "<!--fz-status-->", 7, "<!--/fz-status-->")
	f.Add("<!--fz-status-->\n<!--\n", "\u2028\x00", -1, "\xff")
	f.Add(strings.Repeat("é", 40000), "big", 9, "")
	f.Fuzz(func(t *testing.T, markdown, text string, n int, item string) {
		st := &Status[fuzzDetails]{ObservedGeneration: "0123456789abcdef0123456789abcdef01234567", Status: "completed", Conclusion: "neutral",
			Details: fuzzDetails{Text: text, N: n, Items: []string{item}, Map: map[string]int{item: n}}}
		marker, err := encodeMarker("fz", st)
		if err != nil {
			t.Fatal(err)
		}
		summary, err := renderSummary(markdown, marker)
		if err != nil {
			if errors.Is(err, ErrStatusTooLarge) {
				return
			}
			t.Fatal(err)
		}
		if len(summary) > MaxSummaryBytes {
			t.Fatalf("summary is %d bytes", len(summary))
		}
		got, err := DecodeSummary[fuzzDetails]("fz", summary)
		if err != nil {
			t.Fatalf("DecodeSummary: %v", err)
		}
		// encoding/json turns invalid UTF-8 into U+FFFD, so compare with what JSON keeps.
		want := jsonNormalize(t, st)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read back %+v, want %+v", got, want)
		}
	})
}
