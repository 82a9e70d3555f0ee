"""A question in, ranked passages out: embeddings.py (sentence-transformers, with the ONNX
encoder of onnx_encoder.py for speed), lexical.py (BM25), fusion.py (reciprocal rank) and
retriever.py, the LangChain retriever that puts the dense and lexical sides together."""
