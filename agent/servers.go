package agent

import (
	"errors"
	"net/http"
	"sync"

	"github.com/droverhq/drover/api"
)

// serverPool is the servers the agent talks to: one at a time, moving to
// the next when a request fails in a way another server might not
// (unreachable, 5xx). Any server forwards to the leader, so which one
// answers does not matter.
type serverPool struct {
	mu      sync.Mutex
	clients []*api.Client
	cur     int
}

// newServerPool makes a client per server. Each sends the node's secret,
// which the node's own calls (registration, heartbeats, allocation
// updates) need. With hc set, the clients speak HTTPS through it (the
// agent's client certificate) and carry no token.
func newServerPool(addrs []string, token, nodeSecret string, hc *http.Client) (*serverPool, error) {
	p := &serverPool{}
	return p, p.reset(addrs, token, nodeSecret, hc)
}

// reset replaces the clients: once the agent obtained its certificate,
// it talks HTTPS with it.
func (p *serverPool) reset(addrs []string, token, nodeSecret string, hc *http.Client) error {
	var clients []*api.Client
	for _, a := range addrs {
		cfg := api.Config{Address: a, Token: token}
		if hc != nil {
			cfg = api.Config{Address: httpsURL(a), HTTPClient: hc}
		}
		c, err := api.NewClient(cfg)
		if err != nil {
			return err
		}
		clients = append(clients, c.WithNodeSecret(nodeSecret))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients, p.cur = clients, 0
	return nil
}

func (p *serverPool) client() *api.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clients[p.cur]
}

// failed notes that c failed with err and moves on when another server
// might do better.
func (p *serverPool) failed(c *api.Client, err error) {
	var se *api.StatusError
	if errors.As(err, &se) && se.Code < http.StatusInternalServerError {
		return // the request's fault: every server says the same
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clients[p.cur] == c {
		p.cur = (p.cur + 1) % len(p.clients)
	}
}
