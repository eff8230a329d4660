//go:build !linux

package bench

import "syscall"

// childAttr is nothing outside Linux: the bench stops its children itself.
func childAttr() *syscall.SysProcAttr { return nil }
