// placeholder: implemented by the data loaders work (issue 5)
