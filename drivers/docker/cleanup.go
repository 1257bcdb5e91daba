package docker

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// RemoveOrphans removes the containers a crash left behind: those
// labelled with a drover.alloc_id (and this node's drover.node_id, when
// the driver has one) whose allocation is not in live and which this
// driver does not track. It returns the IDs it removed. The agent calls
// it once it has recovered the tasks it knows, with every allocation it
// still runs or is starting.
func (d *Driver) RemoveOrphans(ctx context.Context, live map[string]bool) ([]string, error) {
	f := client.Filters{}.Add("label", LabelAllocID)
	if d.cfg.NodeID != "" {
		f.Add("label", LabelNodeID+"="+d.cfg.NodeID)
	}
	list, err := d.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("docker: list containers: %w", err)
	}
	tracked := map[string]bool{}
	for _, t := range d.tasks.All() {
		tracked[t.st.ContainerID] = true
	}

	var removed []string
	var errs []error
	for _, c := range list.Items {
		alloc := c.Labels[LabelAllocID]
		if live[alloc] || tracked[c.ID] {
			continue
		}
		_, err := d.api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: remove orphaned container %s: %w", c.ID, err))
			continue
		}
		d.log.Info("removed orphaned container", "container", c.ID, "alloc_id", alloc, "task", c.Labels[LabelTask], "names", c.Names)
		removed = append(removed, c.ID)
	}
	return removed, errors.Join(errs...)
}
