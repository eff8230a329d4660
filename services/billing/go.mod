module github.com/selfserve/selfserve/services/billing

go 1.26.7
