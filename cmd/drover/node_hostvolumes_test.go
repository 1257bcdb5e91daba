package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/droverhq/drover/cluster"
)

func TestNodeStatusHostVolumes(t *testing.T) {
	n := &cluster.Node{ID: "1f3a9c2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f", Name: "w1", HostVolumes: map[string]cluster.HostVolume{
		"data": {Path: "/srv/data"}, "certs": {Path: "/etc/ssl", ReadOnly: true},
	}}
	var b bytes.Buffer
	renderNodeStatus(&b, &nodeStatusView{Node: n}, renderNow)
	if want := "Host Volumes   = certs (read-only), data\n"; !strings.Contains(b.String(), want) {
		t.Errorf("node status:\n%s\nwant the line %q", b.String(), want)
	}
	b.Reset()
	n.HostVolumes = nil
	renderNodeStatus(&b, &nodeStatusView{Node: n}, renderNow)
	if strings.Contains(b.String(), "Host Volumes") {
		t.Errorf("a node without host volumes shows the line:\n%s", b.String())
	}
}
