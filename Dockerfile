FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/prod.txt
COPY . .
RUN useradd --create-home kassa && chown -R kassa /app
USER kassa
EXPOSE 8000
CMD ["bin/web"]
