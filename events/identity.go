package events

import (
	"fmt"
	"strings"
)

// MaxIdentityLength is the longest identity (check run name) accepted, in bytes.
const MaxIdentityLength = 100

// ValidateIdentity checks a reconciler's identity, which is the name of its check runs and
// appears in the status marker of their summaries (<!--IDENTITY-status-->): 1 to 100 bytes,
// no '<' or '>' (they would end the marker's HTML comment) and no line break (the marker is
// one line). The configuration (IDENTITY) and the statusmanager both check it with this.
func ValidateIdentity(identity string) error {
	switch {
	case identity == "":
		return &FieldError{Field: "identity", Reason: "is empty"}
	case len(identity) > MaxIdentityLength:
		return &FieldError{Field: "identity", Value: identity, Reason: fmt.Sprintf("is longer than %d bytes", MaxIdentityLength)}
	case strings.ContainsAny(identity, "<>\r\n"):
		return &FieldError{Field: "identity", Value: identity, Reason: "has '<', '>' or a line break"}
	}
	return nil
}
