module github.com/selfserve/selfserve/services/gateway

go 1.26.7
