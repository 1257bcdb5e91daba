package main

import (
	"encoding/json"
	"testing"

	"github.com/droverhq/drover/api"
)

func TestEventLine(t *testing.T) {
	for _, tc := range []struct {
		ev   api.Event
		want string
	}{
		{api.Event{Index: 7, Topic: "Job", Type: "JobRegistered", Key: "web", Namespace: "default",
			Payload: json.RawMessage(`{"Job":{"id":"web","version":0,"status":"pending"}}`)},
			"7 Job JobRegistered web version=0 status=pending"},
		{api.Event{Index: 8, Topic: "Allocation", Type: "PlanResult", Key: "4cfdb51e-e05f-451c-9d82-5eb1e7bd232d", Namespace: "prod",
			Payload: json.RawMessage(`{"Allocation":{"job_id":"web","task_group":"g","node_name":"n1","desired_status":"run","client_status":"pending"}}`)},
			"8 Allocation PlanResult prod/4cfdb51e job=web group=g node=n1 desired=run client=pending"},
		{api.Event{Index: 9, Topic: "Deployment", Type: "DeploymentStatusUpdate", Key: "df9a606a-ebe1", Namespace: "default",
			Payload: json.RawMessage(`{"Deployment":{"job_id":"web","job_version":2,"status":"running","status_description":"Deployment is running"}}`)},
			`9 Deployment DeploymentStatusUpdate df9a606a job=web version=2 status=running description="Deployment is running"`},
		{api.Event{Index: 10, Topic: "Sync", Type: "CommitRejected", Key: "main",
			Payload: json.RawMessage(`{"SyncStatus":{"commits":[{"commit":"0123456789abcdef","outcome":"rejected","errors":["web.hcl:3:5: Unsupported argument"]}]}}`)},
			`10 Sync CommitRejected main commit=01234567 outcome=rejected error="web.hcl:3:5: Unsupported argument"`},
		{api.Event{Index: 11, Topic: "Node", Type: "NodeRegistration", Key: "n-1",
			Payload: json.RawMessage(`{"Node":{"name":"devnode","status":"ready","scheduling_eligibility":"eligible"}}`)},
			"11 Node NodeRegistration n-1 name=devnode status=ready eligibility=eligible"},
		{api.Event{Index: 12, Topic: "Job", Type: "JobRegistered", Key: "x", Payload: json.RawMessage(`"not an object"`)},
			"12 Job JobRegistered x"},
	} {
		if got := eventLine(tc.ev); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}
