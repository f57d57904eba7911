package events_test

import (
	"errors"
	"fmt"

	"github.com/prreconciler/prreconciler/events"
)

func ExampleDecoder_Decode() {
	d := &events.Decoder{AppID: 4242, Identity: "prreconciler"}

	// A reconcile request published by anyone.
	res, err := d.Decode(&events.Message{ID: "17", Data: []byte(`{"owner":"octo-org","repo":"hello-world",
		"url":"https://github.com/octo-org/hello-world/pull/7","sha":"6DCB09B5B57875F334F61AEBED695E2E4193DB5E","rerun":true}`)})
	fmt.Println(res.Requests[0].String(), res.Requests[0].SHA, err)

	// A pull_request webhook relayed as a CloudEvent.
	res, err = d.Decode(&events.Message{
		ID: "18",
		Attributes: map[string]string{
			"ce-type": "dev.chainguard.github.pull_request", "ce-id": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
			"ce-subject": "octo-org/hello-world", "ce-action": "synchronize",
		},
		Data: []byte(`{"when":"2024-05-04T01:14:52Z","headers":{"event":"pull_request"},"body":{
			"action":"synchronize","installation":{"id":42},
			"repository":{"name":"hello-world","owner":{"login":"octo-org"}},
			"pull_request":{"number":7,"html_url":"https://github.com/octo-org/hello-world/pull/7",
				"head":{"sha":"ec26c3e57ca3a959ca5aad62de7213c562f8c821"}}}}`),
	})
	r := res.Requests[0]
	fmt.Println(r.Resource.URL, r.SHA, r.InstallationID, r.DeliveryID, err)

	// A closed pull request asks for nothing.
	res, err = d.Decode(&events.Message{
		ID:         "19",
		Attributes: map[string]string{"ce-type": "dev.chainguard.github.pull_request"},
		Data:       []byte(`{"body":{"action":"closed"}}`),
	})
	fmt.Println(len(res.Requests), res.Ignored, err)

	// An invalid message is a permanent error naming the field.
	_, err = d.Decode(&events.Message{ID: "20", Data: []byte(`{"owner":"octo-org","repo":"hello-world",
		"url":"https://github.com/octo-org/hello-world/pull/7","sha":"6dcb09b5b57875f334f61aebed695e2e4193db5"}`)})
	var invalid *events.InvalidMessageError
	fmt.Println(errors.Is(err, events.ErrInvalidMessage), errors.As(err, &invalid), invalid.Field)
	fmt.Println(err)

	// Output:
	// octo-org/hello-world#7@6dcb09b5b578 (rerun) 6dcb09b5b57875f334f61aebed695e2e4193db5e <nil>
	// https://github.com/octo-org/hello-world/pull/7 ec26c3e57ca3a959ca5aad62de7213c562f8c821 42 72d3162e-cc78-11e3-81ab-4c9367dc0958 <nil>
	// 0 pull_request action "closed" is not one we reconcile <nil>
	// true true sha
	// invalid message 20: field sha: has 39 characters; a commit SHA has 40 hex digits
}

func ExampleParseResource() {
	r, err := events.ParseResource("https://github.com/octo-org/hello-world/pull/7")
	fmt.Println(r.Owner, r.Repo, r.Number, r, err)

	_, err = events.ParseResource("https://github.com/octo-org/hello-world/pulls/7")
	fmt.Println(err)

	// Output:
	// octo-org hello-world 7 octo-org/hello-world#7 <nil>
	// invalid url "https://github.com/octo-org/hello-world/pulls/7": is not https://<host>/<owner>/<repo>/pull/<number>
}

func ExampleRunRef() {
	// The statusmanager keeps the pull request in the external_id of every run it writes...
	id := events.RunRef{Number: 7, Ref: "rerun:72d3162e"}.String()
	fmt.Println(id)

	// ...so that a check_run event of a fork's pull request, which lists no pull requests,
	// still names it.
	ref := events.ParseRunRef(id)
	fmt.Println(ref.Number, ref.Ref)

	// Runs written before carry the writer's reference alone.
	old := events.ParseRunRef("rerun:72d3162e")
	fmt.Println(old.Number, old.Ref)

	// Output:
	// pr:7 rerun:72d3162e
	// 7 rerun:72d3162e
	// 0 rerun:72d3162e
}
