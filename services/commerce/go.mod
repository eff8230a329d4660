module github.com/selfserve/selfserve/services/commerce

go 1.26.7
