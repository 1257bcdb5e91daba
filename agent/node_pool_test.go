package agent

import (
	"strings"
	"testing"
)

func TestConfigNodePool(t *testing.T) {
	for _, tc := range []struct {
		src, want, err string
	}{
		{src: ``, want: ""},
		{src: `node_pool = "gpu"`, want: "gpu"},
		{src: `node_pool = "default"`, want: "default"},
		{src: `node_pool = "all"`, err: `node_pool: node is not allowed to register in node pool "all"`},
		{src: `node_pool = "a/b"`, err: `node_pool: invalid node pool: invalid name "a/b", must match regex`},
		{src: `node_pool = "` + strings.Repeat("p", 129) + `"`, err: "must match regex"},
	} {
		c := DefaultConfig()
		c.Servers = []string{"127.0.0.1:4747"}
		c.DataDir = t.TempDir()
		if _, err := ParseConfigFile(&c, "agent.hcl", []byte(tc.src)); err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if c.NodePool != tc.want && tc.err == "" {
			t.Errorf("%s: NodePool = %q, want %q", tc.src, c.NodePool, tc.want)
		}
		err := c.Validate()
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.src, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want an error containing %q", tc.src, err, tc.err)
		}
	}
}
