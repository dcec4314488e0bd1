# The app (Python 3.11). Build: docker build -t tsunagu-app .
FROM python:3.11-slim
WORKDIR /srv/tsunagu
COPY pyproject.toml README.md ./
COPY app app
COPY bot bot
COPY channels channels
COPY core core
COPY evaluation evaluation
COPY handoff handoff
COPY knowledge knowledge
COPY migrations migrations
COPY nlu/__init__.py nlu/normalize.py nlu/client.py nlu/service.py nlu/types.py nlu/errors.py nlu/config.yml nlu/config_rasa_default.yml nlu/
COPY storage storage
COPY privacy privacy
# torch first, from PyTorch's CPU index: a plain `pip install .` would pull a CUDA build
# (several GB) that this service never uses.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir .
ENV TSUNAGU_DATA_DIR=/var/lib/tsunagu TSUNAGU_HOST=0.0.0.0
# The knowledge base's Japanese embedding model is distilled at build time (it depends only
# on the content in the image), so a container starts without the 40 s build. It lands in
# the hash-keyed cache under TSUNAGU_DATA_DIR, which the app finds at start.
RUN tsunagu kb build-model
EXPOSE 8000
CMD ["tsunagu", "serve"]
