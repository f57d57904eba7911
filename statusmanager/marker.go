package statusmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxSummaryBytes is GitHub's limit on a check run's output summary. GitHub documents
// characters but enforces UTF-8 bytes, so the budget is in bytes.
const MaxSummaryBytes = 65535

// ErrNoStatus is returned by DecodeSummary when a summary carries no status marker of the
// identity.
var ErrNoStatus = errors.New("statusmanager: no status marker")

// ErrCorruptStatus is returned (wrapped) by DecodeSummary when the last status marker of the
// identity is present but its JSON cannot be decoded.
var ErrCorruptStatus = errors.New("statusmanager: corrupt status marker")

// ErrStatusTooLarge is returned when a status's JSON alone does not fit in a summary; it is
// permanent: retrying cannot make it fit.
var ErrStatusTooLarge = errors.New("statusmanager: status too large for a check run summary")

func markerStart(identity string) string { return "<!--" + identity + "-status-->" }
func markerEnd(identity string) string   { return "<!--/" + identity + "-status-->" }

// encodeMarker renders the status block that ends every summary we write: the start marker,
// the JSON inside an HTML comment, and the end marker, one per line. encoding/json escapes
// '<', '>' and '&', so no string in the status can close the comment or forge a marker.
func encodeMarker[T any](identity string, st *Status[T]) (string, error) {
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return "", fmt.Errorf("statusmanager: encode status: %w", err)
	}
	var b strings.Builder
	b.Grow(len(js) + 2*len(identity) + 40)
	b.WriteString(markerStart(identity))
	b.WriteString("\n<!--\n")
	b.Write(js)
	b.WriteString("\n-->\n")
	b.WriteString(markerEnd(identity))
	return b.String(), nil
}

// truncationNote is appended to Markdown that was cut to fit; %d is the number of bytes cut.
const truncationNote = "\n\n> **Note:** this summary was truncated to fit GitHub's limit; %d bytes are not shown.\n"

// renderSummary joins the Markdown and the status block, cutting the Markdown (at a UTF-8
// boundary, with a visible note) so the whole fits in MaxSummaryBytes. The marker is
// reserved first: it is what the next run reads back.
func renderSummary(markdown, marker string) (string, error) {
	const sep = "\n\n"
	if len(marker) > MaxSummaryBytes {
		return "", fmt.Errorf("%w: the status JSON needs %d bytes, the limit is %d", ErrStatusTooLarge, len(marker), MaxSummaryBytes)
	}
	if markdown == "" {
		return marker, nil
	}
	if len(markdown)+len(sep)+len(marker) <= MaxSummaryBytes {
		return markdown + sep + marker, nil
	}
	// Reserve room for the note with the largest count it can show.
	note := fmt.Sprintf(truncationNote, len(markdown))
	room := MaxSummaryBytes - len(marker) - len(sep) - len(note)
	if room <= 0 {
		// The status leaves no room for Markdown and a note: the status alone is written.
		return marker, nil
	}
	cut := room
	for cut > 0 && !utf8.RuneStart(markdown[cut]) {
		cut--
	}
	kept := markdown[:cut]
	return kept + fmt.Sprintf(truncationNote, len(markdown)-cut) + sep + marker, nil
}

// DecodeSummary reads the status an identity embedded in a check run summary. The last
// marker wins: ours is always written at the very end, after any Markdown, so text in the
// Markdown (even a forged marker) cannot change what is read. It returns ErrNoStatus when
// there is no complete marker and an error wrapping ErrCorruptStatus when the JSON is bad.
func DecodeSummary[T any](identity, summary string) (*Status[T], error) {
	start, end := markerStart(identity), markerEnd(identity)
	i := strings.LastIndex(summary, start)
	if i < 0 {
		return nil, ErrNoStatus
	}
	rest := summary[i+len(start):]
	j := strings.Index(rest, end)
	if j < 0 {
		return nil, fmt.Errorf("%w: no end marker after the last start marker", ErrCorruptStatus)
	}
	body := strings.TrimSpace(rest[:j])
	body, ok := strings.CutPrefix(body, "<!--")
	if !ok {
		return nil, fmt.Errorf("%w: the JSON is not in an HTML comment", ErrCorruptStatus)
	}
	body, ok = strings.CutSuffix(body, "-->")
	if !ok {
		return nil, fmt.Errorf("%w: the JSON comment is not closed", ErrCorruptStatus)
	}
	var st Status[T]
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptStatus, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the status JSON", ErrCorruptStatus)
	}
	return &st, nil
}
