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
RUN pip install --no-cache-dir .
ENV TSUNAGU_DATA_DIR=/var/lib/tsunagu TSUNAGU_HOST=0.0.0.0
EXPOSE 8000
CMD ["tsunagu", "serve"]
