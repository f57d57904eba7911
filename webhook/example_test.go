package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prreconciler/prreconciler/webhook"
)

// A Handler verifies GitHub's signature, then publishes the delivery in the webhook relay's
// format. In a reconciler binary, MODE=ingress wires it to RELAY_TOPIC (worker.RelayPublisher).
func ExampleHandler() {
	h := &webhook.Handler{
		Secrets: []string{"current secret", "previous secret"},
		Publisher: webhook.PublisherFunc(func(_ context.Context, data []byte, attrs map[string]string) (string, error) {
			fmt.Println("published", attrs["ce-type"], attrs["ce-id"], attrs["ce-subject"], attrs["ce-pullrequesturl"])
			return "1", nil
		}),
	}
	body := `{"action":"opened","number":7,"pull_request":{"number":7},"repository":{"full_name":"octo-org/hello-world"}}`
	for _, secret := range []string{"current secret", "previous secret", "someone else's"} {
		req := httptest.NewRequest(http.MethodPost, "/webhook", strings.NewReader(body))
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		req.Header.Set("X-Hub-Signature-256", webhook.Sign([]byte(body), secret))
		rw := httptest.NewRecorder()
		h.ServeHTTP(rw, req)
		fmt.Println(rw.Code)
	}
	// Output:
	// published dev.chainguard.github.pull_request 72d3162e-cc78-11e3-81ab-4c9367dc0958 octo-org/hello-world https://github.com/octo-org/hello-world/pull/7
	// 200
	// published dev.chainguard.github.pull_request 72d3162e-cc78-11e3-81ab-4c9367dc0958 octo-org/hello-world https://github.com/octo-org/hello-world/pull/7
	// 200
	// 401
}
