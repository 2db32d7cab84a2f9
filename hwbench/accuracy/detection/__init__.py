"""Object detection as a second task: datasets (COCO JSON, Pascal VOC XML, built-in digits-det) and evaluation.

`data` holds the split containers and the dataset registry; each layout registers itself from its own module.
"""
