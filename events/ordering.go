package events

import (
	"encoding/json"
	"strings"
)

// MaxOrderingKeyBytes is Pub/Sub's limit on an ordering key.
const MaxOrderingKeyBytes = 1024

// OrderingKey is the Pub/Sub ordering key of the request's commit: "owner/repo@sha", lower
// case. Every reconcile request for one commit must be published with it to the reconcile
// topic, so that its ordered subscription hands out one message of a commit at a time, on
// every worker instance together: a check run belongs to a commit, not to a pull request,
// so two pull requests with the same head share a key. A valid request's key is at most 181
// bytes, well within MaxOrderingKeyBytes.
func (r *Request) OrderingKey() string {
	return strings.ToLower(r.Resource.Owner+"/"+r.Resource.Repo) + "@" + strings.ToLower(r.SHA)
}

// MarshalJSON encodes the request as the reconcile request of the Pub/Sub contract, which
// Decoder.Decode reads back:
//
//	{"owner":"octo-org","repo":"hello-world","url":"https://github.com/octo-org/hello-world/pull/7",
//	 "sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e","installationId":42,"rerun":false,
//	 "deliveryId":"72d3162e-cc78-11e3-81ab-4c9367dc0958"}
//
// installationId, rerun, deliveryId, baseSha, changedFiles and trigger are left out when
// zero. A request forwarded by the intake stage thus keeps the id of the GitHub delivery it
// came from.
func (r Request) MarshalJSON() ([]byte, error) {
	return json.Marshal(requestWire{
		Owner:          r.Resource.Owner,
		Repo:           r.Resource.Repo,
		URL:            r.Resource.URL,
		SHA:            r.SHA,
		InstallationID: r.InstallationID,
		Rerun:          r.Rerun,
		DeliveryID:     r.DeliveryID,
		BaseSHA:        r.BaseSHA,
		ChangedFiles:   r.ChangedFiles,
		Trigger:        r.Trigger,
	})
}

// requestWire is the encoded form of a reconcile request; requestJSON is its strict decoding.
type requestWire struct {
	Owner          string `json:"owner"`
	Repo           string `json:"repo"`
	URL            string `json:"url"`
	SHA            string `json:"sha"`
	InstallationID int64  `json:"installationId,omitempty"`
	Rerun          bool   `json:"rerun,omitempty"`
	DeliveryID     string `json:"deliveryId,omitempty"`
	BaseSHA        string `json:"baseSha,omitempty"`
	ChangedFiles   int    `json:"changedFiles,omitempty"`
	Trigger        string `json:"trigger,omitempty"`
}

// maxDeliveryIDBytes bounds a forwarded delivery id: it ends up in log labels and in the
// external_id of a rerun's check run. GitHub's are 36-byte UUIDs, Pub/Sub's message ids
// about 16 digits.
const maxDeliveryIDBytes = 256
