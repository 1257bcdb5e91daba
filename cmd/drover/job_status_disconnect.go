package main

import "github.com/droverhq/drover/cluster"

// summaryHeader is the job summary's header. Nomad always shows an
// Unknown column (allocations on a node that stopped heartbeating within
// disconnect.lost_after); Drover adds it only while some group has one,
// so that the usual summary keeps its width.
func summaryHeader(v *jobStatusView) []string {
	h := []string{"Task Group", "Queued", "Starting", "Running", "Failed", "Complete", "Lost"}
	if hasUnknown(v) {
		h = append(h, "Unknown")
	}
	return h
}

func hasUnknown(v *jobStatusView) bool {
	for _, c := range v.Summary {
		if c[cluster.AllocClientUnknown] > 0 {
			return true
		}
	}
	return false
}
