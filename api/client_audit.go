package api

import (
	"context"
	"net/http"

	"github.com/droverhq/drover/cluster"
)

// Audit lists the recorded API writes at or after since: an RFC 3339
// time or a duration back from now ("1h"); "" lists every kept entry.
// It needs the operator:read capability.
func (o *Operator) Audit(ctx context.Context, since string, q *QueryOptions) ([]*cluster.AuditEntry, *QueryMeta, error) {
	params := q.values()
	if since != "" {
		params.Set("since", since)
	}
	var out []*cluster.AuditEntry
	meta, err := o.c.do(ctx, http.MethodGet, "/v1/operator/audit", params, nil, &out)
	if err != nil {
		return nil, nil, err
	}
	return out, meta, nil
}
