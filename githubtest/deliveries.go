package githubtest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HookDelivery is one attempt to deliver a webhook of an App, as GET /app/hook/deliveries
// lists it: a GUID (X-GitHub-Delivery) has its first delivery and any redeliveries.
type HookDelivery struct {
	// ID is the attempt's id; AddHookDelivery assigns it.
	ID int64
	// GUID is the delivery's X-GitHub-Delivery, the same for its redeliveries.
	GUID string
	// DeliveredAt is when the attempt was made; zero means now.
	DeliveredAt time.Time
	// Redelivery is true for an attempt requested after the first.
	Redelivery bool
	// StatusCode is the answer of the webhook's receiver, 0 when none came.
	StatusCode int
	// Status is GitHub's description of the outcome ("OK", "Invalid HTTP Response: 503",
	// "pending"); empty means the status text of StatusCode, or "failed" without one.
	Status string
	// Event and Action are the webhook's X-GitHub-Event and its payload's action.
	Event, Action string
	// InstallationID and RepositoryID are the delivery's installation and repository.
	InstallationID, RepositoryID int64
	app                          int64
}

// AddHookDelivery records a delivery attempt of app's webhook, for tests of what redelivers
// missed webhooks, and returns its id.
func (s *Server) AddHookDelivery(app *App, d HookDelivery) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addDeliveryLocked(app.ID, d).ID
}

func (s *Server) addDeliveryLocked(appID int64, d HookDelivery) *HookDelivery {
	s.nextDeliveryID++
	d.ID = s.nextDeliveryID + 10_000_000_000
	d.app = appID
	if d.DeliveredAt.IsZero() {
		d.DeliveredAt = time.Now()
	}
	if d.Status == "" {
		switch {
		case d.StatusCode >= 200 && d.StatusCode < 300:
			d.Status = "OK"
		case d.StatusCode != 0:
			d.Status = fmt.Sprintf("Invalid HTTP Response: %d", d.StatusCode)
		default:
			d.Status = "failed"
		}
	}
	s.deliveries = append(s.deliveries, &d)
	return &d
}

// HookDeliveries returns app's delivery attempts, oldest first.
func (s *Server) HookDeliveries(app *App) []HookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []HookDelivery
	for _, d := range s.deliveries {
		if d.app == app.ID {
			out = append(out, *d)
		}
	}
	return out
}

// SetRedeliveryStatus sets the status code the attempts made by POST
// /app/hook/deliveries/{id}/attempts record (default 200: the receiver is back): 0 records
// a pending attempt.
func (s *Server) SetRedeliveryStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redeliveryStatus = &code
}

func deliveryJSON(d *HookDelivery) map[string]any {
	return map[string]any{
		"id":              d.ID,
		"guid":            d.GUID,
		"delivered_at":    d.DeliveredAt.UTC().Format(time.RFC3339),
		"redelivery":      d.Redelivery,
		"duration":        0.27,
		"status":          d.Status,
		"status_code":     d.StatusCode,
		"event":           d.Event,
		"action":          nullable(d.Action),
		"installation_id": nullableID(d.InstallationID),
		"repository_id":   nullableID(d.RepositoryID),
		"throttled_at":    nil,
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullableID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// listHookDeliveries: GET /app/hook/deliveries, newest first, per_page (default 30, at most
// 100) and an opaque cursor given in the Link header's next URL, as GitHub pages it.
func (s *Server) listHookDeliveries(r *http.Request, a authn) *response {
	q := r.URL.Query()
	perPage := 30
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	start := 0
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "v1_"))
		if err != nil || err2 != nil || n < 0 {
			return errorResponse(http.StatusBadRequest, "Invalid cursor", "https://docs.github.com/rest/apps/webhooks#list-deliveries-for-an-app-webhook")
		}
		start = n
	}
	s.mu.Lock()
	var mine []*HookDelivery
	for _, d := range s.deliveries {
		if d.app == a.app.ID {
			mine = append(mine, d)
		}
	}
	s.mu.Unlock()
	sort.SliceStable(mine, func(i, j int) bool {
		if !mine[i].DeliveredAt.Equal(mine[j].DeliveredAt) {
			return mine[i].DeliveredAt.After(mine[j].DeliveredAt)
		}
		return mine[i].ID > mine[j].ID
	})
	items := []map[string]any{}
	end := min(start+perPage, len(mine))
	for i := start; i < end; i++ {
		items = append(items, deliveryJSON(mine[i]))
	}
	resp := jsonResponse(http.StatusOK, items)
	if end < len(mine) {
		nq := url.Values{}
		nq.Set("per_page", strconv.Itoa(perPage))
		nq.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte("v1_"+strconv.Itoa(end))))
		resp.header = http.Header{"Link": {fmt.Sprintf(`<%s/app/hook/deliveries?%s>; rel="next"`, s.URL(), nq.Encode())}}
	}
	return resp
}

// redeliverHookDelivery: POST /app/hook/deliveries/{delivery_id}/attempts, 202; the new
// attempt is recorded at once with SetRedeliveryStatus's outcome.
func (s *Server) redeliverHookDelivery(p map[string]string, a authn) *response {
	const doc = "https://docs.github.com/rest/apps/webhooks#redeliver-a-delivery-for-an-app-webhook"
	id, err := strconv.ParseInt(p["delivery_id"], 10, 64)
	if err != nil {
		return errorResponse(http.StatusNotFound, "Not Found", doc)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.deliveries {
		if d.ID == id && d.app == a.app.ID {
			code := http.StatusOK
			if s.redeliveryStatus != nil {
				code = *s.redeliveryStatus
			}
			nd := HookDelivery{GUID: d.GUID, Redelivery: true, StatusCode: code, Event: d.Event, Action: d.Action,
				InstallationID: d.InstallationID, RepositoryID: d.RepositoryID}
			if code == 0 {
				nd.Status = "pending"
			}
			s.addDeliveryLocked(d.app, nd)
			return jsonResponse(http.StatusAccepted, map[string]any{})
		}
	}
	return errorResponse(http.StatusNotFound, "Not Found", doc)
}
