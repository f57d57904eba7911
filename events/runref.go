package events

import (
	"strconv"
	"strings"
)

// runRefPrefix starts the pull request part of a RunRef's external_id.
const runRefPrefix = "pr:"

// RunRef is what a check run of ours keeps in its external_id: the pull request it was
// written for, and the writer's own reference.
//
// GitHub sends external_id back in every check_run event, but lists no pull requests for the
// runs of a fork's pull request. The number kept here traces a Re-run of such a run back to
// its pull request. The repository and host are not kept: they come from the event, so that
// a run on GitHub Enterprise is found on its own host.
type RunRef struct {
	// Number is the pull request number; 0 when unknown.
	Number int
	// Ref is the writer's own reference, free-form; "" for none.
	Ref string
}

// String is the external_id of the reference: "pr:7", "pr:7 rerun:<delivery>", or Ref alone
// when Number is 0 (runs written before RunRef existed carry that form).
func (r RunRef) String() string {
	if r.Number <= 0 {
		return r.Ref
	}
	s := runRefPrefix + strconv.Itoa(r.Number)
	if r.Ref != "" {
		s += " " + r.Ref
	}
	return s
}

// ParseRunRef reads an external_id written by RunRef.String. An external_id without the
// pull request part ("", or the "rerun:<delivery>" of older runs) is all Ref, Number 0.
func ParseRunRef(externalID string) RunRef {
	rest, ok := strings.CutPrefix(externalID, runRefPrefix)
	if !ok {
		return RunRef{Ref: externalID}
	}
	num, ref, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || num[0] == '0' || num[0] == '+' {
		return RunRef{Ref: externalID}
	}
	return RunRef{Number: n, Ref: ref}
}
