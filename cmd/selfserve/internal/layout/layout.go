// Package layout is the shape of a selfserve system, shared by the commands
// that start one (dev) and measure one (bench).
package layout

// Components are the processes of a system in start order: the services
// before the gateway in front of them.
var Components = []string{"licensing", "commerce", "billing", "gateway"}
